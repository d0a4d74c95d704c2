// Options of the "DenseNet-121 + BGT" classifier (paper sec. 4, after Kassani et al. 2020): the
// `classifier.bgt` config section, used when classifier.model.arch is densenet121-bgt or
// densenet-bgt. Torch-free.
#pragma once

#include <string>

#include "config/fields.h"

namespace cxrsynth::train {

struct BgtOptions {
  int trees = 100;                    // Source: ours (issue #6); the paper gives no count
  std::string features = "backbone";  // backbone (Kassani et al.) | trained. Source: see Doc
  int min_samples_split = 2;          // 2 = trees grown until pure. Source: ours
  int max_depth = 25;                 // OpenCV's DTrees maximum. Source: ours
};

template <class V>
void visit_fields(V& v, BgtOptions& o) {
  using config::Doc;
  v.field("trees", o.trees,
          Doc("Trees in the bagging ensemble; P(COVID-19) = fraction of trees voting COVID-19",
              "ours (the paper gives no count)")
              .range(1, 100000));
  v.field("features", o.features,
          Doc("Where the DenseNet features come from: backbone = a frozen DenseNet built from "
              "classifier.weights (ImageNet weights: what Kassani et al., whom the paper "
              "follows, did; empty classifier.weights = a RANDOMLY initialised network, a weak "
              "baseline, marked in every output), or trained = the DenseNet classifier trained "
              "in this run for the same task and configuration "
              "(classifiers/<task>/<config>/densenet121/model.pt; densenet-bgt uses densenet)",
              "Kassani et al. 2020 (paper sec. 4); ours")
              .one_of({"backbone", "trained"}));
  v.field("min_samples_split", o.min_samples_split,
          Doc("A tree node with fewer training rows is not split (2 = grow until pure, "
              "unpruned trees as in bagging)",
              "ours")
              .range(2, 1000000));
  v.field("max_depth", o.max_depth,
          Doc("Largest tree depth (OpenCV's DTrees allows at most 25)", "ours").range(1, 25));
}

}  // namespace cxrsynth::train
