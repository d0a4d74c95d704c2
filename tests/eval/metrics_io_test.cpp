#include "eval/metrics_io.h"

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

}  // namespace
}  // namespace cxrsynth::eval
