#include "models/classifiers/classifier.h"

#include <torch/torch.h>

#include "core/error.h"
#include "models/classifiers/architectures.h"

namespace cxrsynth::models {
namespace {

// Source: torchvision densenet.py (densenet121/161/169/201).
detail::DenseNetConfig densenet_config(const ClassifierModelOptions& o) {
  if (o.arch == "densenet121") return {32, {6, 12, 24, 16}, 64, 4};
  if (o.arch == "densenet161") return {48, {6, 12, 36, 24}, 96, 4};
  if (o.arch == "densenet169") return {32, {6, 12, 32, 32}, 64, 4};
  if (o.arch == "densenet201") return {32, {6, 12, 48, 32}, 64, 4};
  if (o.densenet_block_config.empty()) {
    throw UsageError(
        "classifier.model.densenet_block_config is empty; expected at least one "
        "dense block (e.g. [6, 12, 24, 16] for DenseNet-121)");
  }
  for (auto n : o.densenet_block_config) {
    if (n < 1) {
      throw UsageError(fmt::format(
          "classifier.model.densenet_block_config holds {}; expected layers per block >= 1", n));
    }
  }
  return {o.densenet_growth_rate, o.densenet_block_config, o.densenet_init_features,
          o.densenet_bn_size};
}

void check_arch(const ClassifierModelOptions& o) {
  const auto& names = classifier_arch_names();
  if (std::find(names.begin(), names.end(), o.arch) == names.end()) {
    throw UsageError(fmt::format("unknown classifier arch '{}'; expected one of: {}", o.arch,
                                 fmt::join(names, ", ")));
  }
  if (o.in_channels != 1 && o.in_channels != 3) {
    throw UsageError(fmt::format(
        "classifier in_channels is {}; expected 1 (gray) or 3 (RGB copies)", o.in_channels));
  }
  if (is_bgt_arch(o.arch)) {
    throw UsageError(
        fmt::format("'{}' is DenseNet features + bagging trees, not a network: train it with "
                    "train-classifier (train/classifier/bgt_trainer.h); its backbone is '{}'",
                    o.arch, o.arch.substr(0, o.arch.size() - 4)));
  }
}

}  // namespace

const std::vector<std::string>& classifier_arch_names() {
  static const std::vector<std::string> names = {"vgg16",       "resnet50",        "densenet121",
                                                 "densenet161", "densenet169",     "densenet201",
                                                 "densenet",    "densenet121-bgt", "densenet-bgt"};
  return names;
}

ClassifierNet make_classifier(const ClassifierModelOptions& options) {
  check_arch(options);
  if (options.arch == "vgg16") return detail::make_vgg16(options);
  if (options.arch == "resnet50") return detail::make_resnet50(options);
  return detail::make_densenet(options, densenet_config(options));
}

std::int64_t pooled_feature_count(const ClassifierModelOptions& options) {
  check_arch(options);
  if (options.arch == "vgg16") return 512;
  if (options.arch == "resnet50") return 2048;
  return detail::densenet_feature_count(densenet_config(options));
}

}  // namespace cxrsynth::models
