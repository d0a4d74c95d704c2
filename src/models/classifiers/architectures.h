// Internal: one factory per architecture family (classifier.cpp dispatches on options.arch).
#pragma once

#include <cstdint>
#include <vector>

#include "models/classifiers/classifier.h"

namespace cxrsynth::models::detail {

ClassifierNet make_vgg16(const ClassifierModelOptions& options);
ClassifierNet make_resnet50(const ClassifierModelOptions& options);

struct DenseNetConfig {
  std::int64_t growth_rate;
  std::vector<std::int64_t> block_config;
  std::int64_t init_features;
  std::int64_t bn_size;
};
ClassifierNet make_densenet(const ClassifierModelOptions& options, const DenseNetConfig& config);
std::int64_t densenet_feature_count(const DenseNetConfig& config);

}  // namespace cxrsynth::models::detail
