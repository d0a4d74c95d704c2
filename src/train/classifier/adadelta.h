// Adadelta (Zeiler 2012) as Keras and PyTorch's Python optimiser apply it; LibTorch 1.13's C++
// API has no Adadelta. Per parameter:
//   square_avg = rho * square_avg + (1 - rho) * g^2
//   delta      = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g
//   acc_delta  = rho * acc_delta + (1 - rho) * delta^2
//   p         -= lr * delta
// Source: tf.keras Adadelta (ApplyAdadelta), torch.optim.Adadelta (no weight decay).
#pragma once

#include <torch/types.h>

#include <vector>

namespace cxrsynth::train {

// One parameter's update as the eleven ATen operations that torch.optim.Adadelta runs.
void adadelta_update_aten(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& sq,
                          torch::Tensor& acc, double lr, double rho, double eps);
// The same update in one fused pass over the four tensors (AVX2 + FMA, float32 CPU tensors
// with one dense layout, e.g. all contiguous or all channels_last; used only if a self-check at
// first use shows it bit-identical to adadelta_update_aten on this CPU). Returns false, changing
// nothing, where it does not apply.
bool adadelta_update_fused(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& sq,
                           torch::Tensor& acc, double lr, double rho, double eps);

// step() uses adadelta_update_fused where it applies, adadelta_update_aten elsewhere: the
// results are identical.
class Adadelta {
 public:
  Adadelta(std::vector<torch::Tensor> params, double lr, double rho, double eps);

  void zero_grad();  // sets the gradients to none (undefined)
  void step();       // parameters without a gradient are skipped

  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }

  // State per parameter, in the order given (for checkpoints).
  std::vector<torch::Tensor>& square_avg() { return square_avg_; }
  std::vector<torch::Tensor>& acc_delta() { return acc_delta_; }

 private:
  std::vector<torch::Tensor> params_, square_avg_, acc_delta_;
  double lr_, rho_, eps_;
};

}  // namespace cxrsynth::train
