// VGG-16 (configuration D, without batch norm) with torchvision's names: `features.N` are the
// indices of torchvision's nn.Sequential (conv at 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28).
//
// Head (paper sec. 4, authors' code): global average pooling over `features`, then one linear
// layer `fc` (512 -> 2). It replaces torchvision's `avgpool` (7x7 adaptive) and its three-layer
// `classifier` (25088 -> 4096 -> 4096 -> 1000); those `classifier.*` keys are therefore not
// loaded on import.
#include <torch/torch.h>

#include "models/classifiers/architectures.h"

namespace cxrsynth::models::detail {
namespace {

namespace nn = torch::nn;

// Source: torchvision vgg.py cfgs["D"]; 0 = max pooling.
const std::vector<int> kVgg16Config = {64, 64,  0,   128, 128, 0,   256, 256, 256,
                                       0,  512, 512, 512, 0,   512, 512, 512, 0};

class Vgg16Impl : public ClassifierNetImpl {
 public:
  explicit Vgg16Impl(const ClassifierModelOptions& options) : ClassifierNetImpl(options) {
    std::int64_t in = options.in_channels;
    for (int c : kVgg16Config) {
      if (c == 0) {
        features_->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
      } else {
        features_->push_back(nn::Conv2d(nn::Conv2dOptions(in, c, 3).padding(1)));
        features_->push_back(nn::ReLU(nn::ReLUOptions(true)));
        in = c;
      }
    }
    register_module("features", features_);
    fc_ = register_module("fc", nn::Linear(in, kNumClasses));
    // torchvision VGG init: conv kaiming-normal (fan_out, relu), bias 0; linear N(0, 0.01).
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* conv = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
        nn::init::zeros_(conv->bias);
      } else if (auto* linear = m->as<nn::Linear>()) {
        nn::init::normal_(linear->weight, 0.0, 0.01);
        nn::init::zeros_(linear->bias);
      }
    }
  }

  torch::Tensor pooled_features(const torch::Tensor& x) override {
    return features_->forward(x).mean({2, 3});  // [N, 512]
  }
  torch::Tensor head(const torch::Tensor& f) override { return fc_->forward(f); }
  std::vector<std::string> head_keys() const override { return {"fc.weight", "fc.bias"}; }
  std::vector<std::string> replaced_torchvision_prefixes() const override {
    return {"classifier."};
  }
  std::string first_conv_key() const override { return "features.0.weight"; }

 private:
  nn::Sequential features_;
  nn::Linear fc_{nullptr};
};

}  // namespace

ClassifierNet make_vgg16(const ClassifierModelOptions& options) {
  return std::make_shared<Vgg16Impl>(options);
}

}  // namespace cxrsynth::models::detail
