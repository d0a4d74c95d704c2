#include "eval/metrics_report.h"

#include <fmt/format.h>

#include <cmath>

#include "core/seed.h"

namespace cxrsynth::eval {

namespace {

std::string number(double v, bool count) {
  if (!std::isfinite(v)) return "n/a";
  return count ? fmt::format("{:.0f}", v) : fmt::format("{:.3f}", v);
}

std::string cell(const MetricInterval& m) {
  const bool count = m.name == "tp" || m.name == "fp" || m.name == "tn" || m.name == "fn";
  return fmt::format("{} [{}, {}]", number(m.value, count), number(m.ci.lo, count),
                     number(m.ci.hi, count));
}

}  // namespace

MetricsReport make_metrics_report(const std::vector<Prediction>& test,
                                  const MetricsOptions& options, std::uint64_t seed,
                                  const std::vector<Prediction>& validation, int threads) {
  BootstrapOptions b;
  b.draws = options.bootstrap_draws;
  b.level = options.level;
  b.threads = threads;
  MetricsReport report;
  report.at_threshold = bootstrap_metrics(test, options.threshold, seed, b);
  if (options.target_specificity > 0.0) {
    const bool on_validation = !validation.empty();
    if (on_validation) check_predictions(validation);
    const double t =
        threshold_for_specificity(on_validation ? validation : test, options.target_specificity);
    report.target_specificity = options.target_specificity;
    report.threshold_source = on_validation ? "validation" : "test";
    // Without negatives there is no threshold to choose: the operating point stays absent
    // and metrics.json says why.
    if (!std::isnan(t)) {
      report.at_fixed_specificity =
          bootstrap_metrics(test, t, derive_seed(seed, "fixed-specificity"), b);
    }
  }
  return report;
}

std::string format_metrics_table(const MetricsReport& report) {
  const BootstrapResult& r = report.at_threshold;
  std::string out = fmt::format(
      "{} images ({} {}, {} {}) of {} patients; {:.0f}% intervals from {} patient-level "
      "bootstrap draws\n",
      r.point.n, r.point.cm.positives(), report.positive_class, r.point.cm.negatives(),
      report.negative_class, r.patients, 100.0 * r.level, r.draws);
  const bool fixed = report.at_fixed_specificity.has_value();
  if (report.target_specificity && !fixed) {
    out += fmt::format("specificity >= {}: no threshold (no negatives in the {} predictions)\n",
                       *report.target_specificity, report.threshold_source);
  }
  out += fmt::format("{:<18} {:<28}", "metric", fmt::format("threshold {}", r.point.threshold));
  if (fixed) {
    out += fmt::format(" specificity >= {} (threshold {:.4g}, chosen on {}{})",
                       *report.target_specificity, report.at_fixed_specificity->point.threshold,
                       report.threshold_source,
                       report.threshold_source == "test" ? ": optimistic" : "");
  }
  out += "\n";
  for (std::size_t i = 0; i < r.metrics.size(); ++i) {
    out += fmt::format("{:<18} {:<28}", r.metrics[i].name, cell(r.metrics[i]));
    if (fixed) out += " " + cell(report.at_fixed_specificity->metrics[i]);
    out += "\n";
  }
  return out;
}

}  // namespace cxrsynth::eval
