// DenseNet-BC with torchvision's names: features.conv0, features.norm0,
// features.denseblockN.denselayerM.{norm1, conv1, norm2, conv2}, features.transitionN.{norm,
// conv}, features.norm5, classifier. The family differs only by (growth rate, block
// configuration, stem width, bottleneck factor). Head: ReLU, global average pooling,
// classifier (C -> 2), as torchvision with num_classes = 2. No dropout (drop_rate 0, the
// torchvision default).
#include <torch/torch.h>

#include "models/classifiers/architectures.h"
#include "models/classifiers/batch_norm.h"
#include "models/classifiers/max_pool.h"

namespace cxrsynth::models::detail {
namespace {

namespace nn = torch::nn;

nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride,
                std::int64_t pad) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

// pool0: 3x3, stride 2, padding 1 (dilation 1, floor)
bool stem_pool(const nn::MaxPool2dImpl& pool) {
  const auto& o = pool.options;
  for (int d = 0; d < 2; ++d) {
    if ((*o.kernel_size())[d] != 3 || (*o.stride())[d] != 2 || (*o.padding())[d] != 1 ||
        (*o.dilation())[d] != 1)
      return false;
  }
  return !o.ceil_mode();
}

class DenseLayerImpl : public nn::Module {
 public:
  DenseLayerImpl(std::int64_t in, std::int64_t growth, std::int64_t bn_size) {
    norm1_ = register_module("norm1", nn::BatchNorm2d(in));
    conv1_ = register_module("conv1", conv(in, bn_size * growth, 1, 1, 0));
    norm2_ = register_module("norm2", nn::BatchNorm2d(bn_size * growth));
    conv2_ = register_module("conv2", conv(bn_size * growth, growth, 3, 1, 1));
  }
  // features: the block input and the earlier layers' outputs, [N, in, H, W] together ->
  // [N, growth, H, W]
  torch::Tensor forward(const std::vector<torch::Tensor>& features) {
    // Batch norm + ReLU as one function in training (batch_norm.h); in eval mode the module's
    // forward and an in-place ReLU, as torchvision (inplace=True).
    // norm1 reads the concatenation of the features without building it (batch_norm.h)
    auto y = conv1_->forward(batch_norm_cat(*norm1_, features, /*relu=*/true));
    return conv2_->forward(batch_norm(*norm2_, y, /*relu=*/true));
  }

 private:
  nn::BatchNorm2d norm1_{nullptr}, norm2_{nullptr};
  nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
};
TORCH_MODULE(DenseLayer);

class DenseBlockImpl : public nn::Module {
 public:
  DenseBlockImpl(std::int64_t layers, std::int64_t in, std::int64_t growth, std::int64_t bn_size) {
    for (std::int64_t i = 0; i < layers; ++i) {
      layers_.push_back(register_module("denselayer" + std::to_string(i + 1),
                                        DenseLayer(in + i * growth, growth, bn_size)));
    }
  }
  // Each layer sees the concatenation of the block input and all earlier layers' outputs.
  torch::Tensor forward(const torch::Tensor& x) {
    std::vector<torch::Tensor> features{x};
    for (auto& layer : layers_) features.push_back(layer->forward(features));
    return torch::cat(features, 1);
  }

 private:
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

// torchvision's _Transition is an nn.Sequential (norm, relu, conv, pool); a Sequential nested
// in a Sequential needs a non-template forward in LibTorch.
class TransitionImpl : public nn::SequentialImpl {
 public:
  TransitionImpl(std::int64_t in, std::int64_t out) {
    push_back("norm", nn::BatchNorm2d(in));
    push_back("relu", nn::ReLU(nn::ReLUOptions(true)));
    push_back("conv", conv(in, out, 1, 1, 0));
    push_back("pool", nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)));
  }
  // norm + relu through batch_norm (batch_norm.h), then conv and pool.
  torch::Tensor forward(torch::Tensor x) {
    x = batch_norm(*ptr(0)->as<nn::BatchNorm2d>(), x, /*relu=*/true);
    return ptr(3)->as<nn::AvgPool2d>()->forward(ptr(2)->as<nn::Conv2d>()->forward(x));
  }
};
TORCH_MODULE(Transition);

class DenseNetImpl : public ClassifierNetImpl {
 public:
  DenseNetImpl(const ClassifierModelOptions& options, const DenseNetConfig& config)
      : ClassifierNetImpl(options) {
    features_->push_back("conv0", conv(options.in_channels, config.init_features, 7, 2, 3));
    features_->push_back("norm0", nn::BatchNorm2d(config.init_features));
    features_->push_back("relu0", nn::ReLU(nn::ReLUOptions(true)));
    features_->push_back("pool0", nn::MaxPool2d(nn::MaxPool2dOptions(3).stride(2).padding(1)));
    std::int64_t n = config.init_features;
    for (std::size_t i = 0; i < config.block_config.size(); ++i) {
      const auto layers = config.block_config[i];
      features_->push_back("denseblock" + std::to_string(i + 1),
                           DenseBlock(layers, n, config.growth_rate, config.bn_size));
      n += layers * config.growth_rate;
      if (i + 1 != config.block_config.size()) {
        features_->push_back("transition" + std::to_string(i + 1), Transition(n, n / 2));
        n /= 2;
      }
    }
    features_->push_back("norm5", nn::BatchNorm2d(n));
    register_module("features", features_);
    classifier_ = register_module("classifier", nn::Linear(n, kNumClasses));
    // torchvision DenseNet init: conv kaiming-normal (fan_in); BN weight 1, bias 0;
    // linear bias 0 (weight keeps nn.Linear's default).
    torch::NoGradGuard no_grad;
    for (auto& m : modules(/*include_self=*/false)) {
      if (auto* c = m->as<nn::Conv2d>()) {
        nn::init::kaiming_normal_(c->weight);
      } else if (auto* bn = m->as<nn::BatchNorm2d>()) {
        nn::init::ones_(bn->weight);
        nn::init::zeros_(bn->bias);
      } else if (auto* linear = m->as<nn::Linear>()) {
        nn::init::zeros_(linear->bias);
      }
    }
  }

  torch::Tensor pooled_features(const torch::Tensor& x) override {
    // features_ member by member so that each BatchNorm2d -> ReLU pair (and norm5 -> the
    // head's ReLU) runs as one batch_norm call (batch_norm.h).
    auto y = x;
    const std::size_t n = features_->size();
    for (std::size_t i = 0; i < n; ++i) {
      auto* bn = features_->ptr(i)->as<nn::BatchNorm2d>();
      if (auto* pool = features_->ptr(i)->as<nn::MaxPool2d>(); pool && stem_pool(*pool)) {
        y = max_pool2d(y, 3, 2, 1);  // max_pool.h: same values and indices as ATen's
        continue;
      }
      if (bn == nullptr) {
        y = (features_->begin() + static_cast<std::ptrdiff_t>(i))->forward(y);
        continue;
      }
      const bool last = i + 1 == n;  // norm5: the head's ReLU follows
      const bool relu_next = !last && features_->ptr(i + 1)->as<nn::ReLU>() != nullptr;
      y = batch_norm(*bn, y, /*relu=*/last || relu_next);
      if (last) return y.mean({2, 3});  // [N, C]
      if (relu_next) ++i;               // applied with the batch norm
    }
    return y.relu_().mean({2, 3});  // [N, C]
  }
  torch::Tensor head(const torch::Tensor& f) override { return classifier_->forward(f); }
  std::vector<std::string> head_keys() const override {
    return {"classifier.weight", "classifier.bias"};
  }
  std::string first_conv_key() const override { return "features.conv0.weight"; }

 private:
  nn::Sequential features_;
  nn::Linear classifier_{nullptr};
};

}  // namespace

std::int64_t densenet_feature_count(const DenseNetConfig& config) {
  std::int64_t n = config.init_features;
  for (std::size_t i = 0; i < config.block_config.size(); ++i) {
    n += config.block_config[i] * config.growth_rate;
    if (i + 1 != config.block_config.size()) n /= 2;
  }
  return n;
}

ClassifierNet make_densenet(const ClassifierModelOptions& options, const DenseNetConfig& config) {
  return std::make_shared<DenseNetImpl>(options, config);
}

}  // namespace cxrsynth::models::detail
