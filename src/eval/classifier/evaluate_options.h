// Options of the `evaluate` stage (the `evaluate` config section; torch-free): how a trained
// classifier is scored on the task's real test images (METHOD.md sec. 3, issue #6 item 5).
#pragma once

#include "config/fields.h"

namespace cxrsynth::eval {

struct EvaluateOptions {
  double threshold = 0.5;           // Source: paper sec. 4 (argmax of a 2-way softmax)
  int bootstrap_draws = 1000;       // Source: ours (issue #6)
  double level = 0.95;              // Source: ours
  double target_specificity = 0.0;  // > 0: a second operating point, threshold chosen on val
  bool features = true;             // write features.csv (pooled features for UMAP, Fig. 8)
  int batch_size = 32;              // Source: ours
};

template <class V>
void visit_fields(V& v, EvaluateOptions& o) {
  using config::Doc;
  v.field("threshold", o.threshold,
          Doc("Predicted COVID-19 when P(COVID-19) >= threshold (0.5 = the softmax argmax)",
              "paper sec. 4")
              .range(0, 1));
  v.field(
      "bootstrap_draws", o.bootstrap_draws,
      Doc("Bootstrap draws for the 95% intervals, resampling patients", "ours").range(1, 1000000));
  v.field("level", o.level, Doc("Central mass of the bootstrap intervals", "ours").range(0, 1));
  v.field("target_specificity", o.target_specificity,
          Doc("When > 0, also report the operating point reaching this specificity; its "
              "threshold is chosen on the validation split (never the test set)",
              "ours")
              .range(0, 1));
  v.field("features", o.features,
          Doc("Write features.csv: the global-average-pooled features of each test image "
              "(for the UMAP figure, Fig. 8)",
              "paper sec. 5"));
  v.field("batch_size", o.batch_size, Doc("Images per inference batch", "ours").range(1, 4096));
}

}  // namespace cxrsynth::eval
