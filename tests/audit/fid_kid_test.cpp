// FID and KID against scripts/reference/fid_kid_reference.py (scipy.linalg.sqrtm as pytorch-fid
// uses it; numpy.linalg.eigvals for rank-deficient covariances; Binkowski et al.'s unbiased
// MMD^2) on fixed seeded inputs, to 1e-6 relative; identical sets give ~0; the two trace-sqrt
// paths agree; bootstrap intervals are deterministic and carry the small-sample warnings.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <optional>

#include "audit/fid_kid.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/seed.h"
#include "support/temp_dir.h"

namespace cxrsynth::audit {
namespace {

using nlohmann::json;
using testing::TempDir;

FeatureMatrix random_matrix(std::uint64_t seed, std::int64_t rows, std::int64_t cols, double shift,
                            double scale) {
  Rng rng(seed);
  FeatureMatrix m{rows, cols, {}};
  for (std::int64_t i = 0; i < rows * cols; ++i) {
    // Correlated columns, so the covariances are not diagonal.
    const double z = rng.normal();
    m.values.push_back(shift + scale * z + (i % cols > 0 ? 0.5 * m.values.back() : 0.0));
  }
  return m;
}

std::string to_csv(const FeatureMatrix& m) {
  std::string s;
  for (std::int64_t i = 0; i < m.rows; ++i) {
    for (std::int64_t k = 0; k < m.cols; ++k) {
      s += fmt::format("{}{:.17g}", k ? "," : "",
                       m.values[static_cast<std::size_t>(i * m.cols + k)]);
    }
    s += "\n";
  }
  return s;
}

std::optional<json> reference(const TempDir& dir, const FeatureMatrix& x, const FeatureMatrix& y,
                              std::string& skip) {
  if (!fs::exists("/usr/bin/python3")) {
    skip = "/usr/bin/python3 not found";
    return std::nullopt;
  }
  write_file_atomic(dir / "x.csv", to_csv(x));
  write_file_atomic(dir / "y.csv", to_csv(y));
  const auto script = testing::source_dir() / "scripts/reference/fid_kid_reference.py";
  const std::string cmd = "/usr/bin/python3 '" + script.string() + "' --x '" +
                          (dir / "x.csv").string() + "' --y '" + (dir / "y.csv").string() +
                          "' --out '" + (dir / "ref.json").string() + "' > '" +
                          (dir / "log.txt").string() + "' 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    const auto log = read_file(dir / "log.txt");
    if (log.rfind("SKIP", 0) == 0) {
      skip = log;
      return std::nullopt;
    }
    ADD_FAILURE() << "reference script failed: " << log;
    return std::nullopt;
  }
  return json::parse(read_file(dir / "ref.json"));
}

void expect_rel(double actual, double expected, double rel) {
  EXPECT_NEAR(actual, expected, rel * std::max(1.0, std::abs(expected)))
      << "actual " << actual << " expected " << expected;
}

TEST(FidKid, MatchesScipyReferenceOnFullRankSamples) {
  TempDir tmp;
  const auto x = random_matrix(1, 60, 6, 0.0, 1.0);
  const auto y = random_matrix(2, 45, 6, 0.3, 1.4);
  std::string skip;
  const auto ref = reference(tmp, x, y, skip);
  if (!ref) GTEST_SKIP() << skip;
  const double fid = frechet_distance(x, y);
  expect_rel(fid, ref->at("fid_sqrtm").get<double>(), 1e-6);
  expect_rel(fid, ref->at("fid_eigvals").get<double>(), 1e-6);
  expect_rel(kernel_distance(x, y), ref->at("kid").get<double>(), 1e-6);
  EXPECT_GT(fid, 0.1);
}

TEST(FidKid, RankDeficientCovariancesMatchEigenvalueReferenceAndPathsAgree) {
  TempDir tmp;
  const auto x = random_matrix(3, 10, 16, 0.0, 1.0);
  const auto y = random_matrix(4, 12, 16, 0.2, 0.8);
  const double eigh = trace_sqrt_product(x, y, TraceSqrtMethod::kEigh);
  const double nuclear = trace_sqrt_product(x, y, TraceSqrtMethod::kNuclearNorm);
  EXPECT_NEAR(eigh, nuclear, 1e-8 * std::abs(nuclear));
  std::string skip;
  const auto ref = reference(tmp, x, y, skip);
  if (!ref) GTEST_SKIP() << skip;
  expect_rel(frechet_distance(x, y), ref->at("fid_eigvals").get<double>(), 1e-6);
  expect_rel(kernel_distance(x, y), ref->at("kid").get<double>(), 1e-6);
}

TEST(FidKid, FullRankPathsAgree) {
  const auto x = random_matrix(5, 80, 5, 0.0, 1.0);
  const auto y = random_matrix(6, 70, 5, 1.0, 2.0);
  EXPECT_NEAR(trace_sqrt_product(x, y, TraceSqrtMethod::kEigh),
              trace_sqrt_product(x, y, TraceSqrtMethod::kNuclearNorm), 1e-9);
}

TEST(FidKid, IdenticalSetsGiveAboutZero) {
  const auto x = random_matrix(7, 200, 8, 0.5, 1.0);
  const auto far = random_matrix(8, 200, 8, 1.5, 1.0);
  EXPECT_NEAR(frechet_distance(x, x), 0.0, 1e-9);
  const double kid_same = kernel_distance(x, x);
  const double kid_far = kernel_distance(x, far);
  // The unbiased estimator on identical sets is O(1/n) around 0, not exactly 0.
  EXPECT_LT(std::abs(kid_same), 0.02 * kid_far) << kid_same << " vs " << kid_far;
  EXPECT_GT(frechet_distance(x, far), 1.0);
}

TEST(FidKid, BootstrapIsSeededAndWarnsOnSmallSamples) {
  const auto x = random_matrix(9, 30, 12, 0.0, 1.0);
  const auto y = random_matrix(10, 20, 12, 0.4, 1.0);
  std::vector<std::string> gx, gy;
  for (int i = 0; i < 30; ++i) gx.push_back("p" + std::to_string(i / 3));
  for (int i = 0; i < 20; ++i) gy.push_back("q" + std::to_string(i / 2));
  FidKidOptions o;
  o.draws = 40;
  const auto a = fid_kid_with_intervals(x, gx, y, gy, 11, o);
  const auto b = fid_kid_with_intervals(x, gx, y, gy, 11, o);
  EXPECT_EQ(a.fid.lo, b.fid.lo);
  EXPECT_EQ(a.fid.hi, b.fid.hi);
  EXPECT_EQ(a.kid.lo, b.kid.lo);
  EXPECT_EQ(a.kid.hi, b.kid.hi);
  EXPECT_EQ(a.groups_x, 10);
  EXPECT_EQ(a.groups_y, 10);
  EXPECT_DOUBLE_EQ(a.fid.value, frechet_distance(x, y));
  EXPECT_LE(a.fid.lo, a.fid.hi);
  EXPECT_LE(a.kid.lo, a.kid.hi);
  const auto c = fid_kid_with_intervals(x, gx, y, gy, 12, o);
  EXPECT_NE(a.fid.lo, c.fid.lo);
  ASSERT_EQ(a.warnings.size(), 1u);  // small sample; 20 > 12 dims so full rank
  EXPECT_NE(a.warnings[0].find("small sample"), std::string::npos);

  const auto narrow = random_matrix(13, 8, 12, 0.0, 1.0);
  auto d = fid_kid_with_intervals(narrow, {}, y, gy, 11, o);
  ASSERT_EQ(d.warnings.size(), 2u);
  EXPECT_NE(d.warnings[1].find("rank-deficient"), std::string::npos);
  o.pca_dims = 4;
  d = fid_kid_with_intervals(narrow, {}, y, gy, 11, o);
  EXPECT_EQ(d.warnings.size(), 1u);
  EXPECT_EQ(d.fid_dims, 4);
  o.pca_dims = 13;
  EXPECT_THROW(fid_kid_with_intervals(narrow, {}, y, gy, 11, o), UsageError);
}

}  // namespace
}  // namespace cxrsynth::audit
