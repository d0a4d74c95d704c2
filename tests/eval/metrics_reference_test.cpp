// C++ metrics against scripts/reference/metrics_reference.py (numpy, independent algorithms:
// pairwise AUC, per-positive average precision, brute-force threshold search) on the same
// seeded random predictions, with ties. Skips when /usr/bin/python3 or numpy is missing.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/seed.h"
#include "eval/metrics.h"
#include "eval/metrics_io.h"
#include "support/temp_dir.h"

namespace cxrsynth::eval {
namespace {

using nlohmann::json;
using testing::TempDir;

std::vector<Prediction> random_predictions(std::uint64_t seed, int n, double positive_rate) {
  Rng rng(seed);
  std::vector<Prediction> out;
  for (int i = 0; i < n; ++i) {
    const int label = rng.uniform() < positive_rate ? 1 : 0;
    double p = 1.0 / (1.0 + std::exp(-(rng.normal() + 1.2 * label - 0.5)));
    if (i % 2 == 0) p = std::round(p * 20.0) / 20.0;  // many ties, some exactly at 0.5
    out.push_back({"img" + std::to_string(i), "pat" + std::to_string(i / 3), label, p});
  }
  return out;
}

// Runs the reference on `p`; returns its JSON, or nullopt (with the reason) to skip.
std::optional<json> reference(const TempDir& dir, const std::vector<Prediction>& p,
                              std::string& skip) {
  if (!fs::exists("/usr/bin/python3")) {
    skip = "/usr/bin/python3 not found";
    return std::nullopt;
  }
  write_predictions_csv(dir / "predictions.csv", p, 0.5);
  const fs::path script = testing::source_dir() / "scripts/reference/metrics_reference.py";
  const std::string cmd = "/usr/bin/python3 '" + script.string() + "' --predictions '" +
                          (dir / "predictions.csv").string() + "' --out '" +
                          (dir / "ref.json").string() +
                          "' --threshold 0.5 0.3 0.85 --specificity 0 0.5 0.9 0.95 1 > '" +
                          (dir / "log.txt").string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  if (rc != 0) {
    const std::string log = read_file(dir / "log.txt");
    if (log.rfind("SKIP", 0) == 0) {
      skip = log;
      return std::nullopt;
    }
    ADD_FAILURE() << "reference script failed: " << log;
    return std::nullopt;
  }
  return json::parse(read_file(dir / "ref.json"));
}

void expect_close(double actual, const json& expected, const std::string& what) {
  if (expected.is_null()) {
    EXPECT_TRUE(std::isnan(actual)) << what << ": expected undefined, got " << actual;
  } else {
    EXPECT_NEAR(actual, expected.get<double>(), 1e-9) << what;
  }
}

void compare(const std::vector<Prediction>& p, const json& ref) {
  for (const auto& r : ref["at_threshold"]) {
    const double t = r["threshold"].get<double>();
    const BinaryMetrics m = compute_metrics(p, t);
    for (const auto& [name, value] : metric_values(m)) {
      if (name == "roc_auc" || name == "pr_auc") continue;
      expect_close(value, r[name], name + " at " + std::to_string(t));
    }
  }
  const BinaryMetrics m = compute_metrics(p);
  expect_close(m.roc_auc, ref["roc_auc"], "roc_auc");
  expect_close(m.pr_auc, ref["pr_auc"], "pr_auc");
  const auto curve = roc_curve(p);
  ASSERT_EQ(curve.size(), ref["roc_curve"].size());
  for (std::size_t i = 1; i < curve.size(); ++i) {
    const auto& r = ref["roc_curve"][i];
    EXPECT_EQ(curve[i].threshold, r["threshold"].get<double>()) << i;
    expect_close(curve[i].fpr, r["fpr"], "fpr " + std::to_string(i));
    expect_close(curve[i].tpr, r["tpr"], "tpr " + std::to_string(i));
  }
  for (const auto& r : ref["threshold_for_specificity"]) {
    const double target = r["target"].get<double>();
    expect_close(threshold_for_specificity(p, target), r["threshold"],
                 "threshold for specificity " + std::to_string(target));
  }
}

TEST(MetricsReference, RandomPredictionsWithTies) {
  TempDir dir;
  const auto p = random_predictions(2020, 400, 0.3);
  std::string skip;
  const auto ref = reference(dir, p, skip);
  if (!ref) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    return;
  }
  compare(p, *ref);
}

TEST(MetricsReference, NoPositivesGivesUndefinedOnBothSides) {
  TempDir dir;
  auto p = random_predictions(7, 60, 0.0);
  std::string skip;
  const auto ref = reference(dir, p, skip);
  if (!ref) {
    if (!skip.empty()) GTEST_SKIP() << skip;
    return;
  }
  EXPECT_TRUE((*ref)["roc_auc"].is_null());
  compare(p, *ref);
}

}  // namespace
}  // namespace cxrsynth::eval
