// Bagging ensemble of decision trees: vote fractions, determinism (seed and thread count),
// bootstrap samples of one class, save/load round trip, corrupted and missing files.
#include <gtest/gtest.h>

#include <cmath>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/seed.h"
#include "models/bgt/bagged_trees.h"
#include "support/temp_dir.h"

namespace cxrsynth::models {
namespace {

using testing::message_of;
using testing::TempDir;

// n rows, c features; class 1 iff feature 0 > 0 (perfectly separable on one feature, the
// others noise).
FeatureMatrix toy(std::size_t n, std::size_t c, std::uint64_t seed, std::vector<int>& labels) {
  Rng rng(seed);
  FeatureMatrix x{n, c, std::vector<float>(n * c)};
  labels.assign(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t k = 0; k < c; ++k) x.values[i * c + k] = static_cast<float>(rng.normal());
    // keep a margin around 0 so every bootstrap tree finds the same rule
    float& f0 = x.values[i * c];
    f0 = f0 >= 0 ? f0 + 0.5f : f0 - 0.5f;
    labels[i] = f0 > 0;
  }
  return x;
}

TEST(BaggedTrees, VoteFractionOnSeparableData) {
  std::vector<int> y;
  const auto x = toy(120, 8, 1, y);
  BaggedTreesParams p;
  p.trees = 25;
  const auto m = BaggedTrees::fit(x, y, p, 7, 2);
  EXPECT_EQ(m.tree_count(), 25u);
  EXPECT_EQ(m.feature_count(), 8u);
  std::vector<int> yt;
  const auto xt = toy(60, 8, 2, yt);
  const auto votes = m.positive_votes(xt);
  const auto prob = m.predict_proba(xt);
  ASSERT_EQ(votes.size(), 60u);
  for (std::size_t i = 0; i < 60; ++i) {
    // P = votes / trees exactly, and every tree learned the rule on feature 0.
    EXPECT_DOUBLE_EQ(prob[i], votes[i] / 25.0);
    EXPECT_EQ(votes[i], yt[i] ? 25 : 0) << "row " << i;
  }
}

TEST(BaggedTrees, VoteFractionCountsDisagreeingTrees) {
  // Labels that no feature explains: trees disagree, and the probability must still be the
  // exact fraction of positive votes (multiples of 1/trees).
  Rng rng(3);
  FeatureMatrix x{80, 4, std::vector<float>(320)};
  std::vector<int> y(80);
  for (auto& v : x.values) v = static_cast<float>(rng.normal());
  for (std::size_t i = 0; i < 80; ++i) y[i] = rng.uniform() < 0.5;
  BaggedTreesParams p;
  p.trees = 8;
  const auto m = BaggedTrees::fit(x, y, p, 1, 1);
  std::vector<int> unused;
  const auto xt = toy(40, 4, 9, unused);
  const auto votes = m.positive_votes(xt);
  const auto prob = m.predict_proba(xt);
  bool mixed = false;
  for (std::size_t i = 0; i < votes.size(); ++i) {
    EXPECT_GE(votes[i], 0);
    EXPECT_LE(votes[i], 8);
    EXPECT_DOUBLE_EQ(prob[i], votes[i] / 8.0);
    mixed = mixed || (votes[i] > 0 && votes[i] < 8);
  }
  EXPECT_TRUE(mixed) << "expected some rows with split votes";
}

TEST(BaggedTrees, SameSeedSameProbabilitiesForAnyThreadCount) {
  Rng rng(5);
  FeatureMatrix x{100, 6, std::vector<float>(600)};
  std::vector<int> y(100);
  for (std::size_t i = 0; i < 100; ++i) {
    for (std::size_t k = 0; k < 6; ++k) x.values[i * 6 + k] = static_cast<float>(rng.normal());
    y[i] = x.values[i * 6] + 0.5 * x.values[i * 6 + 1] + 0.7 * rng.normal() > 0;
  }
  BaggedTreesParams p;
  p.trees = 12;
  const auto a = BaggedTrees::fit(x, y, p, 42, 1);
  const auto b = BaggedTrees::fit(x, y, p, 42, 2);
  const auto c = BaggedTrees::fit(x, y, p, 43, 1);
  EXPECT_EQ(a.predict_proba(x), b.predict_proba(x));
  EXPECT_EQ(a.serialize(), b.serialize());
  EXPECT_NE(a.serialize(), c.serialize());
  // Out-of-bag estimate: defined for almost every row ((1 - 1/n)^n per tree, 12 trees).
  ASSERT_EQ(a.oob_proba().size(), 100u);
  int defined = 0;
  for (double v : a.oob_proba()) defined += std::isfinite(v);
  EXPECT_GE(defined, 95);
}

TEST(BaggedTrees, OneClassBootstrapSampleGivesAConstantTree) {
  // 1 positive in 40 rows: P(a bootstrap sample misses it) = (39/40)^40 ~ 36%.
  Rng rng(1);
  FeatureMatrix x{40, 3, std::vector<float>(120)};
  for (auto& v : x.values) v = static_cast<float>(rng.normal());
  std::vector<int> y(40, 0);
  y[7] = 1;
  BaggedTreesParams p;
  p.trees = 20;
  const auto m = BaggedTrees::fit(x, y, p, 2, 2);
  EXPECT_GT(m.constant_tree_count(), 0u);
  EXPECT_LT(m.constant_tree_count(), 20u);
  const auto votes = m.positive_votes(x);
  EXPECT_EQ(static_cast<std::size_t>(votes[7]), 20u - m.constant_tree_count());
}

TEST(BaggedTrees, RejectsBadInput) {
  std::vector<int> y;
  auto x = toy(10, 2, 1, y);
  BaggedTreesParams p;
  p.trees = 3;
  EXPECT_NE(message_of([&] {
              BaggedTrees::fit(x, std::vector<int>(10, 1), p, 1, 1);
            }).find("single class"),
            std::string::npos);
  auto y2 = y;
  y2[3] = 2;
  EXPECT_NE(message_of([&] { BaggedTrees::fit(x, y2, p, 1, 1); }).find("row 3 has label 2"),
            std::string::npos);
  x.values[5] = std::nanf("");
  EXPECT_NE(message_of([&] { BaggedTrees::fit(x, y, p, 1, 1); }).find("not finite"),
            std::string::npos);
  EXPECT_THROW(BaggedTrees::fit(FeatureMatrix{}, {}, p, 1, 1), UsageError);
}

TEST(BaggedTrees, SaveLoadRoundTripAndChecksum) {
  TempDir tmp;
  std::vector<int> y;
  const auto x = toy(80, 5, 4, y);
  BaggedTreesParams p;
  p.trees = 10;
  const auto m = BaggedTrees::fit(x, y, p, 3, 2);
  const auto file = tmp / "trees.yml";
  const auto sha = m.save(file);
  EXPECT_EQ(sha.size(), 64u);
  const auto back = BaggedTrees::load(file, sha);
  EXPECT_EQ(back.tree_count(), 10u);
  EXPECT_EQ(back.feature_count(), 5u);
  EXPECT_EQ(back.predict_proba(x), m.predict_proba(x));
  EXPECT_EQ(back.serialize(), m.serialize());

  // Wrong feature count at prediction.
  EXPECT_NE(message_of([&] {
              back.positive_votes(FeatureMatrix{1, 4, std::vector<float>(4)});
            }).find("fitted on 5"),
            std::string::npos);
}

TEST(BaggedTrees, CorruptedOrMissingFileIsRefusedNamingIt) {
  TempDir tmp;
  std::vector<int> y;
  const auto x = toy(60, 4, 4, y);
  BaggedTreesParams p;
  p.trees = 4;
  const auto m = BaggedTrees::fit(x, y, p, 3, 1);
  const auto file = tmp / "trees.yml";
  const auto sha = m.save(file);

  // One byte changed: the checksum catches it.
  auto text = read_file(file);
  text[text.size() / 2] = text[text.size() / 2] == '1' ? '2' : '1';
  write_file_atomic(file, text);
  auto msg = message_of([&] { BaggedTrees::load(file, sha); });
  EXPECT_NE(msg.find("corrupted"), std::string::npos) << msg;
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;

  // Truncated and loaded without a checksum: the parser refuses it.
  write_file_atomic(file, m.serialize().substr(0, 200));
  msg = message_of([&] { BaggedTrees::load(file); });
  EXPECT_NE(msg.find(file.string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("not a cxrsynth bagged-trees ensemble"), std::string::npos) << msg;

  // Not an ensemble at all.
  write_file_atomic(file, "%YAML:1.0\n---\nformat: something-else\n");
  msg = message_of([&] { BaggedTrees::load(file); });
  EXPECT_NE(msg.find("something-else"), std::string::npos) << msg;

  msg = message_of([&] { BaggedTrees::load(tmp / "missing.yml", sha); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

}  // namespace
}  // namespace cxrsynth::models
