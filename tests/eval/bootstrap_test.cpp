#include "eval/bootstrap.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/seed.h"

namespace cxrsynth::eval {
namespace {

// Patients with a random effect shared by their images (clustered scores), 30% covid.
std::vector<Prediction> clustered(std::uint64_t seed, int patients, int images_per_patient,
                                  double patient_sd = 1.0) {
  Rng rng(seed);
  std::vector<Prediction> out;
  for (int p = 0; p < patients; ++p) {
    const int label = rng.uniform() < 0.3 ? 1 : 0;
    const double effect = patient_sd * rng.normal();
    for (int i = 0; i < images_per_patient; ++i) {
      const double z = (label ? 1.0 : 0.0) + effect + rng.normal();
      out.push_back({"img" + std::to_string(p) + "_" + std::to_string(i), "pat" + std::to_string(p),
                     label, 1.0 / (1.0 + std::exp(-z))});
    }
  }
  return out;
}

void expect_same(const BootstrapResult& a, const BootstrapResult& b) {
  ASSERT_EQ(a.metrics.size(), b.metrics.size());
  for (std::size_t i = 0; i < a.metrics.size(); ++i) {
    const auto& x = a.metrics[i];
    const auto& y = b.metrics[i];
    EXPECT_EQ(x.name, y.name);
    EXPECT_TRUE(x.ci.lo == y.ci.lo || (std::isnan(x.ci.lo) && std::isnan(y.ci.lo))) << x.name;
    EXPECT_TRUE(x.ci.hi == y.ci.hi || (std::isnan(x.ci.hi) && std::isnan(y.ci.hi))) << x.name;
    EXPECT_EQ(x.ci.defined_draws, y.ci.defined_draws) << x.name;
  }
}

TEST(Bootstrap, PercentileMatchesNumpy) {
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 25), 1.75);  // numpy.percentile([1,2,3,4], 25)
  EXPECT_DOUBLE_EQ(percentile({4, 1, 3, 2}, 97.5), 3.925);
  EXPECT_DOUBLE_EQ(percentile({1, std::nan(""), 3}, 50), 2.0);
  EXPECT_TRUE(std::isnan(percentile({std::nan("")}, 50)));
}

TEST(Bootstrap, DeterministicForSeedThreadsAndRowOrder) {
  const auto p = clustered(1, 80, 3);
  BootstrapOptions one;
  one.draws = 300;
  one.threads = 1;
  BootstrapOptions three = one;
  three.threads = 3;
  const auto a = bootstrap_metrics(p, 0.5, 42, one);
  expect_same(a, bootstrap_metrics(p, 0.5, 42, one));
  expect_same(a, bootstrap_metrics(p, 0.5, 42, three));
  auto shuffled = p;
  std::reverse(shuffled.begin(), shuffled.end());
  expect_same(a, bootstrap_metrics(shuffled, 0.5, 42, three));
  const auto other = bootstrap_metrics(p, 0.5, 43, one);
  EXPECT_NE(a.at("sensitivity").ci.lo, other.at("sensitivity").ci.lo);
  EXPECT_EQ(a.patients, 80);
  EXPECT_EQ(a.draws, 300);
  const auto& auc = a.at("roc_auc");
  EXPECT_LE(auc.ci.lo, auc.value);
  EXPECT_GE(auc.ci.hi, auc.value);
  EXPECT_EQ(auc.ci.defined_draws, 300);
}

TEST(Bootstrap, ResamplesPatientsNotImages) {
  // Ten identical copies of each image: a patient-level bootstrap sees the same 60 patients
  // and gives exactly the intervals of one image per patient; an image-level one would
  // shrink them about three-fold.
  const auto single = clustered(2, 60, 1);
  std::vector<Prediction> copies;
  for (const auto& p : single) {
    for (int i = 0; i < 10; ++i)
      copies.push_back({p.id + "_" + std::to_string(i), p.patient_id, p.label, p.p_covid});
  }
  BootstrapOptions o;
  o.draws = 200;
  const auto a = bootstrap_metrics(single, 0.5, 7, o);
  const auto b = bootstrap_metrics(copies, 0.5, 7, o);
  for (const char* name : {"sensitivity", "specificity", "ppv", "roc_auc", "pr_auc"}) {
    EXPECT_NEAR(a.at(name).ci.lo, b.at(name).ci.lo, 1e-12) << name;
    EXPECT_NEAR(a.at(name).ci.hi, b.at(name).ci.hi, 1e-12) << name;
  }
  EXPECT_GT(a.at("sensitivity").ci.hi - a.at("sensitivity").ci.lo, 0.1);
}

TEST(Bootstrap, UndefinedDrawsAreCountedAndSkipped) {
  // Two covid patients among 40: some draws hold none, where sensitivity is undefined.
  std::vector<Prediction> p;
  for (int i = 0; i < 40; ++i) {
    p.push_back({"i" + std::to_string(i), "p" + std::to_string(i), i < 2 ? 1 : 0,
                 i == 0 ? 0.9 : 0.1 + 0.01 * i});
  }
  BootstrapOptions o;
  o.draws = 500;
  const auto r = bootstrap_metrics(p, 0.5, 3, o);
  const auto& sens = r.at("sensitivity");
  EXPECT_LT(sens.ci.defined_draws, 500);
  EXPECT_GT(sens.ci.defined_draws, 400);  // P(no positive) = (38/40)^40 = 0.13
  EXPECT_DOUBLE_EQ(sens.ci.lo, 0.0);
  EXPECT_DOUBLE_EQ(sens.ci.hi, 1.0);
  EXPECT_EQ(r.at("specificity").ci.defined_draws, 500);
}

TEST(Bootstrap, CoverageSanity) {
  // True AUC of the clustered model: scores z = label + u + e, u ~ N(0, 1), e ~ N(0, 1):
  // AUC = Phi(1 / sqrt(2 * (1 + 1))) = Phi(0.5). Nominal 95% intervals should cover it in
  // most of 40 replicates (loose bounds: this is a sanity check, not a calibration study).
  const double true_auc = 0.5 * std::erfc(-0.5 / std::sqrt(2.0));
  int covered = 0;
  const int replicates = 40;
  BootstrapOptions o;
  o.draws = 200;
  for (int r = 0; r < replicates; ++r) {
    const auto p = clustered(derive_seed(99, std::to_string(r)), 60, 3);
    const auto res = bootstrap_metrics(p, 0.5, derive_seed(100, std::to_string(r)), o);
    const auto& auc = res.at("roc_auc");
    if (auc.ci.lo <= true_auc && true_auc <= auc.ci.hi) ++covered;
  }
  EXPECT_GE(covered, 32);  // >= 80%
}

TEST(Bootstrap, BadOptions) {
  const auto p = clustered(1, 10, 1);
  BootstrapOptions o;
  o.draws = 0;
  EXPECT_THROW(bootstrap_metrics(p, 0.5, 1, o), UsageError);
  o.draws = 10;
  o.level = 1.0;
  EXPECT_THROW(bootstrap_metrics(p, 0.5, 1, o), UsageError);
}

}  // namespace
}  // namespace cxrsynth::eval
