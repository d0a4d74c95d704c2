// Evaluation outputs: predictions.csv (one row per image) and metrics.json (metrics with
// patient-level bootstrap intervals). Schemas are documented here; JSON stays in the .cpp.
//
// predictions.csv columns: id, patient_id, label (1 = covid, 0 = negative), p_covid (shortest
// round-trip decimal), pred (1 when p_covid >= threshold).
//
// metrics.json:
//   { "schema": "cxrsynth.metrics/1", "positive_class": "covid", "negative_class": ...,
//     "n_images", "n_positive", "n_negative", "n_patients",
//     "bootstrap": { "unit": "patient", "draws", "level", "seed" },
//     "at_threshold": { "threshold", "metrics": { "<name>": { "value", "ci_lo", "ci_hi",
//                                                              "defined_draws" }, ... } },
//     "at_fixed_specificity": { "target_specificity", "threshold_source", "threshold",
//                               "metrics": {...} }          (only when asked for; without
//                               negatives to choose on: threshold null and a "reason")
//   }
// Metric names as metric_values(): tp fp tn fn sensitivity specificity ppv npv f1
// balanced_accuracy accuracy roc_auc pr_auc. An undefined value (e.g. sensitivity without
// positives) is null, never 0.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "eval/bootstrap.h"
#include "eval/metrics.h"

namespace cxrsynth::eval {

struct MetricsReport {
  std::string positive_class = "covid";
  std::string negative_class = "normal";
  BootstrapResult at_threshold;
  // Optional second operating point at a fixed specificity. Choosing its threshold on the
  // test predictions is optimistic: say where it came from ("validation" or "test").
  std::optional<double> target_specificity;
  std::string threshold_source;
  std::optional<BootstrapResult> at_fixed_specificity;
};

std::string metrics_json(const MetricsReport& report);  // pretty-printed, trailing newline
void write_metrics_json(const std::filesystem::path& path, const MetricsReport& report);

void write_predictions_csv(const std::filesystem::path& path,
                           const std::vector<Prediction>& predictions, double threshold);
// roc.csv: threshold,fpr,tpr per roc_curve() point (the first threshold is "inf"; undefined
// rates are empty cells), for the report's ROC figure.
void write_roc_curve_csv(const std::filesystem::path& path,
                         const std::vector<Prediction>& predictions);

// Reads what write_predictions_csv wrote (pred is ignored); errors name file and line.
std::vector<Prediction> read_predictions_csv(const std::filesystem::path& path);

}  // namespace cxrsynth::eval
