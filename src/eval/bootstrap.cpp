#include "eval/bootstrap.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/parallel.h"
#include "core/seed.h"

namespace cxrsynth::eval {

const MetricInterval& BootstrapResult::at(const std::string& name) const {
  for (const auto& m : metrics) {
    if (m.name == name) return m;
  }
  throw Error(fmt::format("no bootstrap metric named '{}'", name));
}

double percentile(std::vector<double> values, double q) {
  values.erase(
      std::remove_if(values.begin(), values.end(), [](double v) { return !std::isfinite(v); }),
      values.end());
  if (values.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (pos - static_cast<double>(lo)) * (values[hi] - values[lo]);
}

BootstrapResult bootstrap_metrics(const std::vector<Prediction>& predictions, double threshold,
                                  std::uint64_t seed, const BootstrapOptions& options) {
  if (options.draws < 1) {
    throw UsageError(fmt::format("bootstrap draws {} must be at least 1", options.draws));
  }
  if (!(options.level > 0.0 && options.level < 1.0)) {
    throw UsageError(fmt::format("bootstrap level {} must be in (0, 1)", options.level));
  }
  BootstrapResult result;
  result.point = compute_metrics(predictions, threshold);  // checks the predictions
  result.draws = options.draws;
  result.level = options.level;
  result.seed = seed;

  // Clusters: the images of each patient, patients in id order.
  std::map<std::string, std::vector<std::size_t>> by_patient;
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    by_patient[predictions[i].patient_id].push_back(i);
  }
  const std::vector<std::vector<std::size_t>> clusters = [&] {
    std::vector<std::vector<std::size_t>> c;
    for (auto& [id, rows] : by_patient) c.push_back(std::move(rows));
    return c;
  }();
  result.patients = static_cast<std::int64_t>(clusters.size());

  const auto point_values = metric_values(result.point);
  const std::size_t n_metrics = point_values.size();
  // values[m * draws + b]: metric m in draw b.
  std::vector<double> values(n_metrics * options.draws);
  auto run_draw = [&](int b) {
    Rng rng(derive_seed(seed, fmt::format("draw/{}", b)));
    std::vector<Prediction> sample;
    sample.reserve(predictions.size());
    for (std::size_t k = 0; k < clusters.size(); ++k) {
      for (std::size_t row : clusters[rng.below(clusters.size())]) {
        // Ids are not needed inside a draw; leaving them empty avoids string copies.
        sample.push_back({{}, {}, predictions[row].label, predictions[row].p_covid});
      }
    }
    BinaryMetrics m = metrics_from_confusion(confusion_matrix(sample, threshold), threshold);
    m.roc_auc = roc_auc(sample);
    m.pr_auc = average_precision(sample);
    const auto v = metric_values(m);
    for (std::size_t i = 0; i < n_metrics; ++i) values[i * options.draws + b] = v[i].second;
  };

  // Each draw has its own seed and slot: the intervals do not depend on the thread count.
  if (!clusters.empty()) {
    parallel_for(static_cast<std::size_t>(options.draws), options.threads,
                 [&](std::size_t b) { run_draw(static_cast<int>(b)); });
  }

  const double tail = 50.0 * (1.0 - options.level);
  for (std::size_t i = 0; i < n_metrics; ++i) {
    MetricInterval mi;
    mi.name = point_values[i].first;
    mi.value = point_values[i].second;
    if (clusters.empty()) {
      mi.ci = {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::quiet_NaN(),
               0};
    } else {
      std::vector<double> v(values.begin() + i * options.draws,
                            values.begin() + (i + 1) * options.draws);
      mi.ci.defined_draws = static_cast<int>(
          std::count_if(v.begin(), v.end(), [](double x) { return std::isfinite(x); }));
      mi.ci.lo = percentile(v, tail);
      mi.ci.hi = percentile(std::move(v), 100.0 - tail);
    }
    result.metrics.push_back(std::move(mi));
  }
  return result;
}

}  // namespace cxrsynth::eval
