// Bootstrap percentile intervals for the metrics of metrics.h, resampled by PATIENT: images
// of one patient are correlated, so each draw samples patients (clusters) with replacement and
// takes all their images. Resampling images would understate the uncertainty.
//
// Determinism: draw b uses Rng(derive_seed(seed, "draw/<b>")), and each draw's values go to
// their own slot, so the intervals are identical for any thread count. Patients are ordered
// by id before sampling, so the input row order does not matter either.
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eval/metrics.h"

namespace cxrsynth::eval {

struct BootstrapOptions {
  int draws = 1000;     // Source: issue #6 (1,000 draws)
  double level = 0.95;  // central interval mass
  int threads = 1;      // <= 0: one per hardware thread; results do not depend on it
};

struct Interval {
  double lo = 0, hi = 0;  // NaN when no draw had the metric defined
  int defined_draws = 0;  // draws in which the metric was defined (not NaN)
};

struct MetricInterval {
  std::string name;  // as metric_values() names it
  double value;      // on the full data
  Interval ci;
};

struct BootstrapResult {
  BinaryMetrics point;                  // on the full data
  std::vector<MetricInterval> metrics;  // metric_values() order
  int draws = 0;
  double level = 0.95;
  std::int64_t patients = 0;
  std::uint64_t seed = 0;

  const MetricInterval& at(const std::string& name) const;  // throws if unknown
};

// Percentile of `values` (NaNs dropped) with linear interpolation between order statistics
// (numpy.percentile's default); q in [0, 100]. NaN when no value is finite.
double percentile(std::vector<double> values, double q);

// Metrics at `threshold` with patient-level bootstrap intervals. Derive `seed` from the run
// seed (derive_seed(run_seed, "eval/<task>/<config>/<arch>/bootstrap")).
BootstrapResult bootstrap_metrics(const std::vector<Prediction>& predictions, double threshold,
                                  std::uint64_t seed, const BootstrapOptions& options = {});

}  // namespace cxrsynth::eval
