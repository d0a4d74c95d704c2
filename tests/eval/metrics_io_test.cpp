#include "eval/metrics_io.h"
#include "eval/metrics_report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "support/temp_dir.h"

namespace cxrsynth::eval {
namespace {

using testing::TempDir;

TEST(MetricsIo, PredictionsRoundTrip) {
  TempDir dir;
  const std::vector<Prediction> p = {
      {"a,1", "P1", 1, 0.1 + 0.2}, {"b", "P2", 0, 0.5}, {"c", "P2", 0, 1e-17}};
  write_predictions_csv(dir / "predictions.csv", p, 0.5);
  const CsvTable t = read_csv(dir / "predictions.csv");
  EXPECT_EQ(t.header(), (std::vector<std::string>{"id", "patient_id", "label", "p_covid", "pred"}));
  EXPECT_EQ(t.at(0, "pred"), "0");
  EXPECT_EQ(t.at(1, "pred"), "1");  // 0.5 >= 0.5
  const auto back = read_predictions_csv(dir / "predictions.csv");
  ASSERT_EQ(back.size(), p.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_EQ(back[i].id, p[i].id);
    EXPECT_EQ(back[i].patient_id, p[i].patient_id);
    EXPECT_EQ(back[i].label, p[i].label);
    EXPECT_EQ(back[i].p_covid, p[i].p_covid);  // exact: shortest round-trip decimal
  }
}

TEST(MetricsIo, RocCurveCsv) {
  TempDir dir;
  write_roc_curve_csv(dir / "roc.csv",
                      {{"a", "P1", 1, 0.8}, {"b", "P2", 0, 0.3}, {"c", "P3", 1, 0.3}});
  EXPECT_EQ(read_file(dir / "roc.csv"), "threshold,fpr,tpr\ninf,0,0\n0.8,0,0.5\n0.3,1,1\n");
  write_roc_curve_csv(dir / "roc1.csv", {{"a", "P1", 1, 0.8}});
  EXPECT_EQ(read_file(dir / "roc1.csv"), "threshold,fpr,tpr\ninf,,0\n0.8,,1\n");
}

TEST(MetricsIo, BadPredictionsCsvNamesTheLine) {
  TempDir dir;
  testing::write_text(dir / "p.csv",
                      "id,patient_id,label,p_covid,pred\na,P1,1,0.3,0\nb,P2,2,0.3,0\n");
  try {
    read_predictions_csv(dir / "p.csv");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("p.csv:3"), std::string::npos) << e.what();
  }
}

TEST(MetricsIo, JsonHasIntervalsAndNullForUndefined) {
  std::vector<Prediction> p;
  for (int i = 0; i < 20; ++i) {
    p.push_back({"i" + std::to_string(i), "p" + std::to_string(i / 2), 0, 0.05 * i});
  }
  BootstrapOptions o;
  o.draws = 50;
  MetricsReport report;
  report.at_threshold = bootstrap_metrics(p, 0.5, 1, o);
  report.target_specificity = 0.9;
  report.threshold_source = "test";
  report.at_fixed_specificity = bootstrap_metrics(p, threshold_for_specificity(p, 0.9), 1, o);
  TempDir dir;
  write_metrics_json(dir / "metrics.json", report);
  const auto j = nlohmann::json::parse(read_file(dir / "metrics.json"));
  EXPECT_EQ(j["schema"], "cxrsynth.metrics/1");
  EXPECT_EQ(j["n_images"], 20);
  EXPECT_EQ(j["n_positive"], 0);
  EXPECT_EQ(j["n_patients"], 10);
  EXPECT_EQ(j["bootstrap"]["unit"], "patient");
  EXPECT_EQ(j["bootstrap"]["draws"], 50);
  const auto& m = j["at_threshold"]["metrics"];
  EXPECT_TRUE(m["sensitivity"]["value"].is_null());  // no positives: undefined, not 0
  EXPECT_TRUE(m["sensitivity"]["ci_lo"].is_null());
  EXPECT_EQ(m["sensitivity"]["defined_draws"], 0);
  EXPECT_TRUE(m["roc_auc"]["value"].is_null());
  EXPECT_DOUBLE_EQ(m["specificity"]["value"].get<double>(), 0.5);
  EXPECT_EQ(m["fp"]["value"], 10.0);
  EXPECT_EQ(j["at_fixed_specificity"]["target_specificity"], 0.9);
  EXPECT_EQ(j["at_fixed_specificity"]["threshold_source"], "test");
  EXPECT_GE(j["at_fixed_specificity"]["metrics"]["specificity"]["value"].get<double>(), 0.9);
}

std::vector<Prediction> mixed(int n, double shift) {
  std::vector<Prediction> p;
  for (int i = 0; i < n; ++i) {
    const int label = i % 3 == 0 ? 1 : 0;
    const double score = std::min(1.0, 0.02 * (i % 37) + shift * label);
    p.push_back({"i" + std::to_string(i), "p" + std::to_string(i / 2), label, score});
  }
  return p;
}

TEST(MetricsReport, FixedSpecificityThresholdComesFromValidationWhenGiven) {
  const auto test = mixed(90, 0.3);
  const auto validation = mixed(60, 0.2);
  MetricsOptions o;
  o.bootstrap_draws = 40;
  o.target_specificity = 0.9;
  const MetricsReport with_val = make_metrics_report(test, o, 5, validation);
  EXPECT_EQ(with_val.threshold_source, "validation");
  ASSERT_TRUE(with_val.at_fixed_specificity.has_value());
  EXPECT_DOUBLE_EQ(with_val.at_fixed_specificity->point.threshold,
                   threshold_for_specificity(validation, 0.9));
  const MetricsReport on_test = make_metrics_report(test, o, 5);
  EXPECT_EQ(on_test.threshold_source, "test");
  EXPECT_GE(on_test.at_fixed_specificity->point.specificity, 0.9);
  const std::string table = format_metrics_table(on_test);
  EXPECT_NE(table.find("optimistic"), std::string::npos) << table;
  EXPECT_NE(table.find("sensitivity"), std::string::npos) << table;
  // Same seed, same report, whatever the thread count.
  EXPECT_EQ(metrics_json(on_test), metrics_json(make_metrics_report(test, o, 5, {}, 3)));
}

TEST(MetricsReport, UndefinedIsPrintedAsSuchAndNoThresholdWithoutNegatives) {
  std::vector<Prediction> positives_only = {{"a", "1", 1, 0.7}, {"b", "2", 1, 0.2}};
  MetricsOptions o;
  o.bootstrap_draws = 20;
  o.target_specificity = 0.95;
  const MetricsReport r = make_metrics_report(positives_only, o, 1);
  EXPECT_FALSE(r.at_fixed_specificity.has_value());
  const auto j = nlohmann::json::parse(metrics_json(r));
  EXPECT_TRUE(j["at_fixed_specificity"]["threshold"].is_null());
  EXPECT_TRUE(j["at_threshold"]["metrics"]["specificity"]["value"].is_null());
  const std::string table = format_metrics_table(r);
  EXPECT_NE(table.find("specificity        n/a [n/a, n/a]"), std::string::npos) << table;
  EXPECT_NE(table.find("no threshold"), std::string::npos) << table;
}

}  // namespace
}  // namespace cxrsynth::eval
