#include "core/seed.h"

#include <gtest/gtest.h>

#include <set>

namespace cxrsynth {

TEST(DeriveSeed, StableValues) {
  // Pinned: changing the derivation silently would change every run's results.
  EXPECT_EQ(derive_seed(0, ""), derive_seed(0, ""));
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);  // SplitMix64 reference value
  const auto a = derive_seed(42, "gan/normal-vs-covid/init");
  EXPECT_EQ(a, derive_seed(42, "gan/normal-vs-covid/init"));
}

TEST(DeriveSeed, DependsOnSeedAndName) {
  std::set<std::uint64_t> seen;
  for (std::uint64_t s = 0; s < 20; ++s) {
    for (const char* name : {"split", "gan", "classifier", "phantom", "splita"}) {
      EXPECT_TRUE(seen.insert(derive_seed(s, name)).second) << s << " " << name;
    }
  }
}

TEST(Rng, UniformInRangeAndDeterministic) {
  Rng a(7), b(7);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const double u = a.uniform();
    EXPECT_EQ(u, b.uniform());
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
}

TEST(Rng, BelowIsUnbiasedEnough) {
  Rng r(1);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < 30000; ++i) counts[r.below(3)]++;
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
}

TEST(Rng, NormalMoments) {
  Rng r(3);
  double s = 0, s2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double x = r.normal();
    s += x;
    s2 += x * x;
  }
  EXPECT_NEAR(s / n, 0.0, 0.03);
  EXPECT_NEAR(s2 / n, 1.0, 0.05);
}

}  // namespace cxrsynth
