// Architecture options of the paper's classifiers (sec. 4). Torch-free; stored in every
// classifier file so a checkpoint rebuilds its own network.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/fields.h"

namespace cxrsynth::models {

struct ClassifierModelOptions {
  // vgg16 | resnet50 | densenet121 | densenet161 | densenet169 | densenet201 | densenet, or
  // densenet121-bgt | densenet-bgt: the pooled features of that DenseNet fed to a bagging
  // ensemble of decision trees ("DenseNet-121 + BGT", train/classifier/bgt_trainer.h; not a
  // network: make_classifier refuses it).
  // "densenet" takes its block configuration from the densenet_* fields below (the paper's
  // "DenseNet-102" is defined nowhere, so no preset pretends to be it).
  std::string arch = "densenet121";
  int in_channels = 1;  // a chest X-ray is one channel; 3 reproduces the authors' RGB copies
  int densenet_growth_rate = 32;
  std::vector<std::int64_t> densenet_block_config = {6, 12, 24, 16};
  int densenet_init_features = 64;
  int densenet_bn_size = 4;
};

// The classifier models, in the order they are documented: the networks make_classifier
// builds, then the DenseNet features + bagging trees models (is_bgt_arch).
const std::vector<std::string>& classifier_arch_names();

// densenet121-bgt, densenet-bgt: DenseNet features + bagging trees (no network of its own).
inline bool is_bgt_arch(const std::string& arch) {
  return arch == "densenet121-bgt" || arch == "densenet-bgt";
}

template <class V>
void visit_fields(V& v, ClassifierModelOptions& o) {
  using config::Doc;
  v.field("arch", o.arch,
          Doc("Classifier backbone; 'densenet' uses the densenet_* fields (the paper's "
              "'DenseNet-102' is undefined: the authors' code has only DenseNet-121); "
              "densenet121-bgt / densenet-bgt = that DenseNet's pooled features + a bagging "
              "ensemble of decision trees (classifier.bgt; the paper's 'DenseNet-121 + BGT')",
              "paper sec. 4; authors' code; Kassani et al. 2020")
              .one_of({"vgg16", "resnet50", "densenet121", "densenet161", "densenet169",
                       "densenet201", "densenet", "densenet121-bgt", "densenet-bgt"}));
  v.field("in_channels", o.in_channels,
          Doc("Input channels: 1 (gray X-ray) or 3 (the authors' RGB copies of the gray image)",
              "ours; authors' code used 3")
              .range(1, 3));
  v.field(
      "densenet_growth_rate", o.densenet_growth_rate,
      Doc("DenseNet growth rate k (arch 'densenet' only)", "torchvision DenseNet").range(1, 256));
  v.field("densenet_block_config", o.densenet_block_config,
          Doc("DenseNet layers per dense block (arch 'densenet' only)", "torchvision DenseNet"));
  v.field("densenet_init_features", o.densenet_init_features,
          Doc("DenseNet stem convolution filters (arch 'densenet' only)", "torchvision DenseNet")
              .range(1, 1024));
  v.field("densenet_bn_size", o.densenet_bn_size,
          Doc("DenseNet bottleneck width factor (arch 'densenet' only)", "torchvision DenseNet")
              .range(1, 16));
}

}  // namespace cxrsynth::models
