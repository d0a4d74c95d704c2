#include "eval/metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace cxrsynth::eval {
namespace {

// Hand-computed example (see each expectation). Scores at exactly 0.5 are predicted covid.
std::vector<Prediction> example() {
  return {{"a", "P1", 1, 0.9}, {"b", "P2", 1, 0.6}, {"c", "P3", 1, 0.4}, {"d", "P4", 0, 0.7},
          {"e", "P5", 0, 0.3}, {"f", "P6", 0, 0.2}, {"g", "P7", 0, 0.5}, {"h", "P8", 1, 0.5}};
}

TEST(Metrics, ConfusionMatrixAndRatesByHand) {
  const BinaryMetrics m = compute_metrics(example());
  EXPECT_EQ(m.cm.tp, 3);  // a, b, h (0.5 >= 0.5)
  EXPECT_EQ(m.cm.fn, 1);  // c
  EXPECT_EQ(m.cm.fp, 2);  // d, g
  EXPECT_EQ(m.cm.tn, 2);  // e, f
  EXPECT_EQ(m.n, 8);
  EXPECT_DOUBLE_EQ(m.sensitivity, 0.75);
  EXPECT_DOUBLE_EQ(m.specificity, 0.5);
  EXPECT_DOUBLE_EQ(m.ppv, 0.6);
  EXPECT_DOUBLE_EQ(m.npv, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(m.f1, 6.0 / 9.0);
  EXPECT_DOUBLE_EQ(m.balanced_accuracy, 0.625);
  EXPECT_DOUBLE_EQ(m.accuracy, 0.625);
  // 16 pairs: 0.9 beats 4, 0.6 beats 3, 0.4 beats 2, 0.5 beats 2 and ties 1 -> 11.5 / 16.
  EXPECT_DOUBLE_EQ(m.roc_auc, 11.5 / 16.0);
  // Precision at each positive's score: 1, 2/3, 3/5 (0.5 ties a negative), 4/6.
  EXPECT_NEAR(m.pr_auc, (1.0 + 2.0 / 3.0 + 0.6 + 4.0 / 6.0) / 4.0, 1e-15);
}

TEST(Metrics, OtherThreshold) {
  const BinaryMetrics m = compute_metrics(example(), 0.65);
  EXPECT_EQ(m.cm.tp, 1);
  EXPECT_EQ(m.cm.fp, 1);
  EXPECT_EQ(m.cm.tn, 3);
  EXPECT_EQ(m.cm.fn, 3);
  EXPECT_DOUBLE_EQ(m.sensitivity, 0.25);
  EXPECT_DOUBLE_EQ(m.specificity, 0.75);
}

TEST(Metrics, UndefinedValuesAreNaNNotZero) {
  const std::vector<Prediction> negatives_only = {{"a", "P1", 0, 0.2}, {"b", "P2", 0, 0.7}};
  const BinaryMetrics m = compute_metrics(negatives_only);
  EXPECT_TRUE(std::isnan(m.sensitivity));
  EXPECT_TRUE(std::isnan(m.npv) == false);
  EXPECT_DOUBLE_EQ(m.specificity, 0.5);
  EXPECT_DOUBLE_EQ(m.ppv, 0.0);  // one predicted positive, wrong: defined and 0
  EXPECT_DOUBLE_EQ(m.f1, 0.0);
  EXPECT_TRUE(std::isnan(m.balanced_accuracy));
  EXPECT_TRUE(std::isnan(m.roc_auc));
  EXPECT_TRUE(std::isnan(m.pr_auc));

  const std::vector<Prediction> none_predicted = {{"a", "P1", 0, 0.2}, {"b", "P2", 0, 0.1}};
  const BinaryMetrics n = compute_metrics(none_predicted);
  EXPECT_TRUE(std::isnan(n.ppv));
  EXPECT_TRUE(std::isnan(n.f1));

  const BinaryMetrics empty = compute_metrics({});
  EXPECT_TRUE(std::isnan(empty.accuracy));
  EXPECT_TRUE(std::isnan(empty.sensitivity));
}

TEST(Metrics, AucTiesAndExtremes) {
  std::vector<Prediction> all_tied = {{"a", "1", 1, 0.5}, {"b", "2", 0, 0.5}, {"c", "3", 1, 0.5}};
  EXPECT_DOUBLE_EQ(roc_auc(all_tied), 0.5);
  EXPECT_DOUBLE_EQ(average_precision(all_tied), 2.0 / 3.0);
  std::vector<Prediction> perfect = {{"a", "1", 1, 0.9}, {"b", "2", 0, 0.1}, {"c", "3", 1, 0.8}};
  EXPECT_DOUBLE_EQ(roc_auc(perfect), 1.0);
  EXPECT_DOUBLE_EQ(average_precision(perfect), 1.0);
  std::vector<Prediction> inverted = {{"a", "1", 0, 0.9}, {"b", "2", 1, 0.1}};
  EXPECT_DOUBLE_EQ(roc_auc(inverted), 0.0);
  EXPECT_DOUBLE_EQ(average_precision(inverted), 0.5);
}

TEST(Metrics, RocCurvePoints) {
  const auto c = roc_curve(example());
  ASSERT_EQ(c.size(), 8u);  // +inf and 7 distinct scores
  EXPECT_TRUE(std::isinf(c.front().threshold));
  EXPECT_DOUBLE_EQ(c.front().fpr, 0.0);
  EXPECT_DOUBLE_EQ(c.front().tpr, 0.0);
  EXPECT_DOUBLE_EQ(c[1].threshold, 0.9);
  EXPECT_DOUBLE_EQ(c[1].tpr, 0.25);
  EXPECT_DOUBLE_EQ(c[2].threshold, 0.7);
  EXPECT_DOUBLE_EQ(c[2].fpr, 0.25);
  EXPECT_DOUBLE_EQ(c[4].threshold, 0.5);  // the tied pair moves both rates at once
  EXPECT_DOUBLE_EQ(c[4].tpr, 0.75);
  EXPECT_DOUBLE_EQ(c[4].fpr, 0.5);
  EXPECT_DOUBLE_EQ(c.back().fpr, 1.0);
  EXPECT_DOUBLE_EQ(c.back().tpr, 1.0);
}

TEST(Metrics, ThresholdForSpecificity) {
  const auto p = example();
  // Negatives 0.2 0.3 0.5 0.7. Specificity 0.75 needs 3 below: halfway from 0.5 to 0.6.
  EXPECT_DOUBLE_EQ(threshold_for_specificity(p, 0.75), 0.55);
  EXPECT_DOUBLE_EQ(compute_metrics(p, 0.55).specificity, 0.75);
  EXPECT_DOUBLE_EQ(compute_metrics(p, 0.55).sensitivity, 0.5);
  EXPECT_DOUBLE_EQ(threshold_for_specificity(p, 0.7), 0.55);
  EXPECT_DOUBLE_EQ(threshold_for_specificity(p, 1.0), 0.8);
  EXPECT_DOUBLE_EQ(threshold_for_specificity(p, 0.0), 0.2);
  // The largest score is a negative: the threshold lies just above it.
  std::vector<Prediction> q = {{"a", "1", 1, 0.3}, {"b", "2", 0, 0.9}};
  const double t = threshold_for_specificity(q, 1.0);
  EXPECT_GT(t, 0.9);
  EXPECT_DOUBLE_EQ(compute_metrics(q, t).specificity, 1.0);
  EXPECT_TRUE(std::isnan(threshold_for_specificity({{"a", "1", 1, 0.3}}, 0.9)));
  EXPECT_THROW(threshold_for_specificity(p, 1.5), UsageError);
}

TEST(Metrics, BadPredictionsAreRefused) {
  EXPECT_THROW(compute_metrics({{"a", "1", 2, 0.5}}), Error);
  EXPECT_THROW(compute_metrics({{"a", "1", 1, 1.5}}), Error);
  EXPECT_THROW(compute_metrics({{"a", "1", 1, std::nan("")}}), Error);
  EXPECT_THROW(compute_metrics({{"a", "", 1, 0.5}}), Error);
  // The building blocks check labels and scores too (a NaN would break the sort).
  EXPECT_THROW(roc_auc({{"a", "1", 1, std::nan("")}, {"b", "2", 0, 0.1}}), Error);
  EXPECT_THROW(average_precision({{"a", "1", 1, -0.1}}), Error);
  EXPECT_THROW(roc_curve({{"a", "1", 3, 0.1}}), Error);
  EXPECT_THROW(threshold_for_specificity({{"a", "1", 0, 2.0}}, 0.9), Error);
}

}  // namespace
}  // namespace cxrsynth::eval
