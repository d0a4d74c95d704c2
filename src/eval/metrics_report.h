// From predictions to a MetricsReport (metrics_io.h writes it) and a printable table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/metrics.h"
#include "eval/metrics_io.h"
#include "eval/metrics_options.h"

namespace cxrsynth::eval {

// Metrics at options.threshold with patient-level bootstrap intervals and, when
// options.target_specificity > 0, at the threshold reaching that specificity: chosen on
// `validation` when it is non-empty (threshold_source "validation"), else on the test
// predictions themselves (threshold_source "test": optimistic, and the table says so).
// Draws are seeded from `seed` (derive it: derive_seed(run_seed, "eval/<...>/bootstrap"));
// `threads` does not change the result.
MetricsReport make_metrics_report(const std::vector<Prediction>& test,
                                  const MetricsOptions& options, std::uint64_t seed,
                                  const std::vector<Prediction>& validation = {}, int threads = 1);

// A fixed-width table: one line per metric, value and interval ("n/a" when undefined), and
// the fixed-specificity column when present.
std::string format_metrics_table(const MetricsReport& report);

}  // namespace cxrsynth::eval
