// GAN quality as distances between feature distributions: the Fréchet distance (FID, Heusel et
// al. 2017) and the kernel distance (KID, Binkowski et al. 2018), with patient-level bootstrap
// intervals. cxrsynth computes both on the pooled features of a chest-X-ray classifier trained
// in the run, NOT on Inception-v3 features: the numbers are comparable between runs that use
// the same classifier, never with published FIDs (docs/AUDIT.md).
//
// FID = |mu_x - mu_y|^2 + tr(S_x) + tr(S_y) - 2 tr((S_x S_y)^{1/2}), with the unbiased
// (n - 1) covariances. tr((S_x S_y)^{1/2}) is the sum of the square roots of the eigenvalues of
// S_x S_y, which equal those of the symmetric PSD matrix S_x^{1/2} S_y S_x^{1/2}; it is
// computed either (a) by eigendecompositions of that symmetric matrix (d x d, cost ~d^3) or
// (b) as the nuclear norm of Xc Yc^T / sqrt((n_x - 1)(n_y - 1)), Xc and Yc the centred
// samples: S_x S_y = Xc^T Xc Yc^T Yc / c shares its non-zero eigenvalues with
// (Xc Yc^T)(Xc Yc^T)^T, whose eigenvalues are the squared singular values of Xc Yc^T (cost
// ~n_x n_y min(n_x, n_y)). Both are exact, without the complex round-off of a general sqrtm;
// the cheaper is used (tests check they agree, and agree with scipy.linalg.sqrtm).
//
// KID = unbiased MMD^2 with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3 over the
// whole sets (Binkowski et al. eq. 3; they average over subsets of 1000 only to save time).
//
// Bootstrap: draw b resamples the patients (groups) of each side with replacement, using
// Rng(derive_seed(seed, "draw/<b>")), and recomputes both distances with each image weighted by
// how often its patient was drawn; percentile intervals. Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cxrsynth::audit {

// Row-major samples x features.
struct FeatureMatrix {
  std::int64_t rows = 0, cols = 0;
  std::vector<double> values;
};

double frechet_distance(const FeatureMatrix& x, const FeatureMatrix& y);
double kernel_distance(const FeatureMatrix& x, const FeatureMatrix& y);

enum class TraceSqrtMethod { kAuto, kEigh, kNuclearNorm };
// tr((S_x S_y)^{1/2}) of the two samples' covariances (exposed for tests).
double trace_sqrt_product(const FeatureMatrix& x, const FeatureMatrix& y,
                          TraceSqrtMethod method = TraceSqrtMethod::kAuto);

struct DistanceEstimate {
  double value = 0;
  double lo = 0, hi = 0;  // percentile interval over the bootstrap draws
};

struct FidKidOptions {
  int draws = 200;
  double level = 0.95;
  std::int64_t small_sample = 50;  // warn below this many images on a side
  // > 0: the FID (not the KID) is computed on the projections onto this many leading principal
  // components of the pooled sets, so that n > dims keeps the covariances full-rank.
  std::int64_t pca_dims = 0;
};

struct FidKidResult {
  DistanceEstimate fid, kid;
  std::int64_t n_x = 0, n_y = 0, dims = 0;
  std::int64_t fid_dims = 0;  // dims, or pca_dims when the FID used a projection
  std::int64_t groups_x = 0, groups_y = 0;
  int draws = 0;
  double level = 0;
  std::uint64_t seed = 0;
  std::vector<std::string> warnings;  // small samples, rank-deficient covariances
};

// groups_x[i] names the patient of row i of x (empty strings: each row its own group).
FidKidResult fid_kid_with_intervals(const FeatureMatrix& x,
                                    const std::vector<std::string>& groups_x,
                                    const FeatureMatrix& y,
                                    const std::vector<std::string>& groups_y, std::uint64_t seed,
                                    const FidKidOptions& options);

}  // namespace cxrsynth::audit
