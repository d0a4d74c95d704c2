// ResNet-50 with torchvision's names: conv1, bn1, layer1..layer4 of Bottleneck blocks
// (conv1/bn1, conv2/bn2, conv3/bn3, downsample.0 conv + downsample.1 bn), fc. Stride on the
// 3x3 convolution (torchvision's "ResNet V1.5"). Head: global average pooling, fc 2048 -> 2
// (same as torchvision with num_classes = 2).
#include <torch/torch.h>

#include "models/classifiers/architectures.h"
#include "models/classifiers/batch_norm.h"
#include "models/classifiers/max_pool.h"

namespace cxrsynth::models::detail {
namespace {

namespace nn = torch::nn;

constexpr std::int64_t kExpansion = 4;

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                std::int64_t pad) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

class BottleneckImpl : public nn::Module {
 public:
  BottleneckImpl(std::int64_t in, std::int64_t planes, std::int64_t stride) {
    const std::int64_t out = planes * kExpansion;
    conv1_ = register_module("conv1", conv(in, planes, 1, 1, 0));
    bn1_ = register_module("bn1", nn::BatchNorm2d(planes));
    conv2_ = register_module("conv2", conv(planes, planes, 3, stride, 1));
    bn2_ = register_module("bn2", nn::BatchNorm2d(planes));
    conv3_ = register_module("conv3", conv(planes, out, 1, 1, 0));
    bn3_ = register_module("bn3", nn::BatchNorm2d(out));
    if (stride != 1 || in != out) {
      ds_conv_ = conv(in, out, 1, stride, 0);
      ds_bn_ = nn::BatchNorm2d(out);
      downsample_ = register_module("downsample", nn::Sequential(ds_conv_, ds_bn_));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    // Batch norm + ReLU, and bn3 + residual add + ReLU, as one function each in training
    // (batch_norm.h); in eval mode the module's forward with in-place add and ReLU, as
    // torchvision (ReLU(inplace=True), out += identity).
    auto y = batch_norm(*bn1_, conv1_->forward(x), /*relu=*/true);
    y = batch_norm(*bn2_, conv2_->forward(y), /*relu=*/true);
    // downsample = Sequential(conv, bn), run member by member for the fused batch norm;
    // bn3, the residual add and the ReLU in one pass.
    const auto identity =
        downsample_ ? batch_norm(*ds_bn_, ds_conv_->forward(x), /*relu=*/false) : x;
    return batch_norm_add_relu(*bn3_, conv3_->forward(y), identity);
  }

 private:
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr}, conv3_{nullptr};
  nn::BatchNorm2d bn1_{nullptr}, bn2_{nullptr}, bn3_{nullptr};
  nn::Sequential downsample_{nullptr};  // (ds_conv_, ds_bn_)
  nn::Conv2d ds_conv_{nullptr};
  nn::BatchNorm2d ds_bn_{nullptr};
};
TORCH_MODULE(Bottleneck);

class ResNet50Impl : public ClassifierNetImpl {
 public:
  explicit ResNet50Impl(const ClassifierModelOptions& options) : ClassifierNetImpl(options) {
    conv1_ = register_module("conv1", conv(options.in_channels, 64, 7, 2, 3));
    bn1_ = register_module("bn1", nn::BatchNorm2d(64));
    // Source: torchvision resnet50: Bottleneck, layers [3, 4, 6, 3].
    const std::int64_t blocks[4] = {3, 4, 6, 3};
    std::int64_t in = 64;
    for (int i = 0; i < 4; ++i) {
      const std::int64_t planes = 64LL << i;
      nn::Sequential layer;
      for (std::int64_t b = 0; b < blocks[i]; ++b) {
        layer->push_back(Bottleneck(in, planes, (b == 0 && i > 0) ? 2 : 1));
        in = planes * kExpansion;
      }
      layers_[i] = register_module("layer" + std::to_string(i + 1), layer);
    }
    fc_ = register_module("fc", nn::Linear(in, kNumClasses));
    // torchvision ResNet init: conv kaiming-normal (fan_out, relu); BN weight 1, bias 0;
    // fc keeps nn.Linear's default init.
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(c->weight, 0.0, torch::kFanOut, torch::kReLU);
      } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      }
    }
  }

  torch::Tensor pooled_features(const torch::Tensor& x) override {
    auto y = batch_norm(*bn1_, conv1_->forward(x), /*relu=*/true);
    y = max_pool2d(y, /*kernel_size=*/3, /*stride=*/2, /*padding=*/1);  // max_pool.h
    for (auto& layer : layers_) y = layer->forward(y);
    return y.mean({2, 3});  // [N, 2048]
  }
  torch::Tensor head(const torch::Tensor& f) override { return fc_->forward(f); }
  std::vector<std::string> head_keys() const override { return {"fc.weight", "fc.bias"}; }
  std::string first_conv_key() const override { return "conv1.weight"; }

 private:
  nn::Conv2d conv1_{nullptr};
  nn::BatchNorm2d bn1_{nullptr};
  nn::Sequential layers_[4];
  nn::Linear fc_{nullptr};
};

}  // namespace

ClassifierNet make_resnet50(const ClassifierModelOptions& options) {
  return std::make_shared<ResNet50Impl>(options);
}

}  // namespace cxrsynth::models::detail
