#include "eval/metrics_io.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"

namespace cxrsynth::eval {

namespace {

using nlohmann::json;

json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

json operating_point(const BootstrapResult& r) {
  json metrics = json::object();
  for (const auto& m : r.metrics) {
    metrics[m.name] = {{"value", number_or_null(m.value)},
                       {"ci_lo", number_or_null(m.ci.lo)},
                       {"ci_hi", number_or_null(m.ci.hi)},
                       {"defined_draws", m.ci.defined_draws}};
  }
  return {{"threshold", number_or_null(r.point.threshold)}, {"metrics", metrics}};
}

}  // namespace

std::string metrics_json(const MetricsReport& report) {
  const BootstrapResult& r = report.at_threshold;
  json j = {{"schema", "cxrsynth.metrics/1"},
            {"positive_class", report.positive_class},
            {"negative_class", report.negative_class},
            {"n_images", r.point.n},
            {"n_positive", r.point.cm.positives()},
            {"n_negative", r.point.cm.negatives()},
            {"n_patients", r.patients},
            {"bootstrap",
             {{"unit", "patient"}, {"draws", r.draws}, {"level", r.level}, {"seed", r.seed}}},
            {"at_threshold", operating_point(r)}};
  if (report.at_fixed_specificity) {
    CXRSYNTH_CHECK(report.target_specificity.has_value(),
                   "metrics report: a fixed-specificity operating point needs its target");
    json op = operating_point(*report.at_fixed_specificity);
    op["target_specificity"] = *report.target_specificity;
    op["threshold_source"] = report.threshold_source;
    j["at_fixed_specificity"] = op;
  } else if (report.target_specificity) {
    j["at_fixed_specificity"] = {
        {"target_specificity", *report.target_specificity},
        {"threshold_source", report.threshold_source},
        {"threshold", nullptr},
        {"reason", "no negatives in the " + report.threshold_source + " predictions"}};
  }
  return j.dump(2) + "\n";
}

void write_metrics_json(const std::filesystem::path& path, const MetricsReport& report) {
  write_file_atomic(path, metrics_json(report));
}

void write_predictions_csv(const std::filesystem::path& path,
                           const std::vector<Prediction>& predictions, double threshold) {
  check_predictions(predictions);
  std::string out = csv_line({"id", "patient_id", "label", "p_covid", "pred"});
  for (const auto& p : predictions) {
    out += csv_line({p.id, p.patient_id, std::to_string(p.label), fmt::format("{}", p.p_covid),
                     p.p_covid >= threshold ? "1" : "0"});
  }
  write_file_atomic(path, out);
}

void write_roc_curve_csv(const std::filesystem::path& path,
                         const std::vector<Prediction>& predictions) {
  check_predictions(predictions);
  auto cell = [](double v) { return std::isnan(v) ? std::string() : fmt::format("{}", v); };
  std::string out = csv_line({"threshold", "fpr", "tpr"});
  for (const auto& p : roc_curve(predictions)) {
    out += csv_line({cell(p.threshold), cell(p.fpr), cell(p.tpr)});
  }
  write_file_atomic(path, out);
}

std::vector<Prediction> read_predictions_csv(const std::filesystem::path& path) {
  const CsvTable t = read_csv(path);
  t.require_columns({"id", "patient_id", "label", "p_covid"});
  std::vector<Prediction> out;
  out.reserve(t.size());
  for (std::size_t r = 0; r < t.size(); ++r) {
    Prediction p;
    p.id = t.at(r, "id");
    p.patient_id = t.at(r, "patient_id");
    const std::int64_t label = t.get_int(r, "label");
    if (label != 0 && label != 1) {
      throw Error(fmt::format("{}: column label: expected 0 or 1, got {}", t.where(r), label));
    }
    p.label = static_cast<int>(label);
    p.p_covid = t.get_double(r, "p_covid");
    if (p.p_covid < 0.0 || p.p_covid > 1.0) {
      throw Error(fmt::format("{}: column p_covid: expected a probability in [0, 1], got {}",
                              t.where(r), p.p_covid));
    }
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace cxrsynth::eval
