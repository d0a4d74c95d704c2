#include "train/classifier/adadelta.h"

#include <torch/torch.h>

namespace cxrsynth::train {

Adadelta::Adadelta(std::vector<torch::Tensor> params, double lr, double rho, double eps)
    : params_(std::move(params)), lr_(lr), rho_(rho), eps_(eps) {
  for (const auto& p : params_) {
    square_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    acc_delta_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
}

void Adadelta::zero_grad() {
  for (auto& p : params_) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

void Adadelta::step() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    const auto& g = p.grad();
    auto& sq = square_avg_[i];
    auto& acc = acc_delta_[i];
    sq.mul_(rho_).addcmul_(g, g, 1 - rho_);
    const auto delta = acc.add(eps_).sqrt_().div_(sq.add(eps_).sqrt_()).mul_(g);
    acc.mul_(rho_).addcmul_(delta, delta, 1 - rho_);
    p.add_(delta, -lr_);
  }
}

}  // namespace cxrsynth::train
