// The paper's classifiers (sec. 4): a backbone with torchvision's module names, global average
// pooling, one linear layer to 2 classes; softmax is applied by the caller (probabilities) or
// the loss. Parameter and buffer names equal torchvision's, so a torchvision state_dict maps
// one to one (see weights_io.h for the head and first-convolution rules).
#pragma once

#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include "models/classifiers/classifier_model_options.h"

namespace cxrsynth::models {

inline constexpr int kNumClasses = 2;  // index 1 = COVID-19 (positive)

class ClassifierNetImpl : public torch::nn::Module {
 public:
  explicit ClassifierNetImpl(ClassifierModelOptions options) : options_(std::move(options)) {}

  // [N, in_channels, H, W] -> [N, C]: the globally average-pooled backbone features (what
  // features.csv and the UMAP figure use).
  virtual torch::Tensor pooled_features(const torch::Tensor& x) = 0;
  // [N, C] -> [N, 2] logits.
  virtual torch::Tensor head(const torch::Tensor& features) = 0;
  torch::Tensor forward(const torch::Tensor& x) { return head(pooled_features(x)); }

  // Names of the head's parameters (ours).
  virtual std::vector<std::string> head_keys() const = 0;
  // Prefixes of torchvision keys that have no counterpart here because our head replaces
  // torchvision's (VGG-16: "classifier."); they are skipped on import.
  virtual std::vector<std::string> replaced_torchvision_prefixes() const { return {}; }
  // Name of the first convolution's weight (adapted from RGB on import).
  virtual std::string first_conv_key() const = 0;

  const ClassifierModelOptions& options() const { return options_; }

 private:
  ClassifierModelOptions options_;
};

using ClassifierNet = std::shared_ptr<ClassifierNetImpl>;

// Builds the network named by options.arch with torchvision's initialisation, drawing from
// LibTorch's global generator (seed it first with torch::manual_seed). Throws UsageError for
// an unknown arch or an invalid DenseNet configuration.
ClassifierNet make_classifier(const ClassifierModelOptions& options);

// Number of pooled features of an architecture (512, 2048, 1024 ...).
std::int64_t pooled_feature_count(const ClassifierModelOptions& options);

}  // namespace cxrsynth::models
