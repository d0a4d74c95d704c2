// Options of the metrics computed by `evaluate` (and the experiment grid). Torch-free; the
// evaluate stage registers them as its config section (e.g. `eval.metrics`).
#pragma once

#include "config/fields.h"

namespace cxrsynth::eval {

struct MetricsOptions {
  double threshold = 0.5;           // predicted covid when p_covid >= threshold
  double target_specificity = 0.0;  // 0 = off; else also report the operating point there
  int bootstrap_draws = 1000;       // patient-level bootstrap draws
  double level = 0.95;              // interval mass
};

template <class V>
void visit_fields(V& v, MetricsOptions& o) {
  using config::Doc;
  v.field("threshold", o.threshold,
          Doc("Decision threshold on P(COVID-19): predicted covid when p >= threshold (the "
              "paper's argmax of a 2-way softmax is 0.5)",
              "paper sec. 4; authors' code")
              .range(0, 1));
  v.field("target_specificity", o.target_specificity,
          Doc("Also report the operating point whose threshold reaches this specificity "
              "(chosen on the validation split when there is one); 0 = off",
              "ours")
              .range(0, 1));
  v.field("bootstrap_draws", o.bootstrap_draws,
          Doc("Bootstrap draws for the intervals, resampling patients", "ours").range(1, 1000000));
  v.field("level", o.level,
          Doc("Central mass of the bootstrap percentile intervals", "ours").range(0.5, 0.999));
}

}  // namespace cxrsynth::eval
