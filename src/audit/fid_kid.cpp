#include "audit/fid_kid.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "core/error.h"
#include "core/seed.h"
#include "eval/bootstrap.h"

namespace cxrsynth::audit {
namespace {

torch::Tensor to_tensor(const FeatureMatrix& m) {
  CXRSYNTH_CHECK(
      m.rows >= 0 && m.cols >= 0 && m.values.size() == static_cast<std::size_t>(m.rows * m.cols),
      "feature matrix: {} values for {} x {}", m.values.size(), m.rows, m.cols);
  return torch::from_blob(const_cast<double*>(m.values.data()), {m.rows, m.cols}, torch::kFloat64)
      .clone();
}

// A weighted sample (weights = bootstrap counts): n = sum of weights, the weighted mean, and
// the rows sqrt(w_i) (x_i - mean) so that centred^T centred = sum_i w_i (x_i - mu)(x_i - mu)^T.
struct Moments {
  double n = 0;
  torch::Tensor mean;     // [d]
  torch::Tensor centred;  // [rows with w > 0, d]
};

Moments moments(const torch::Tensor& x, const torch::Tensor& w) {
  const auto keep = w > 0;
  const auto xk = x.index({keep});
  const auto wk = w.index({keep});
  Moments m;
  m.n = wk.sum().item<double>();
  m.mean = (wk.unsqueeze(1) * xk).sum(0) / m.n;
  m.centred = (xk - m.mean) * wk.sqrt().unsqueeze(1);
  return m;
}

torch::Tensor covariance(const Moments& m) {
  return m.centred.t().mm(m.centred) / (m.n - 1);
}

// S^{1/2} of a symmetric PSD matrix; round-off negative eigenvalues count as 0.
torch::Tensor sqrt_psd(const torch::Tensor& s) {
  const auto [evals, evecs] = torch::linalg::eigh(s, "L");
  return (evecs * evals.clamp_min(0).sqrt().unsqueeze(0)).mm(evecs.t());
}

double trace_sqrt(const Moments& a, const Moments& b, TraceSqrtMethod method) {
  const double na = static_cast<double>(a.centred.size(0));
  const double nb = static_cast<double>(b.centred.size(0));
  const double d = static_cast<double>(a.centred.size(1));
  if (method == TraceSqrtMethod::kAuto) {
    const double nuclear_cost = na * nb * std::min(na, nb);
    const double eigh_cost = 2 * d * d * d + (na + nb) * d * d;
    method = nuclear_cost < eigh_cost ? TraceSqrtMethod::kNuclearNorm : TraceSqrtMethod::kEigh;
  }
  if (method == TraceSqrtMethod::kNuclearNorm) {
    // Eigenvalues of S_a S_b = squared singular values of Ca Cb^T / sqrt((n_a - 1)(n_b - 1)).
    const auto c = a.centred.mm(b.centred.t());
    return torch::linalg::svdvals(c, c10::nullopt).sum().item<double>() /
           std::sqrt((a.n - 1) * (b.n - 1));
  }
  const auto root_a = sqrt_psd(covariance(a));
  auto m = root_a.mm(covariance(b)).mm(root_a);
  m = (m + m.t()) / 2;  // symmetric up to round-off
  return torch::linalg::eigvalsh(m, "L").clamp_min(0).sqrt().sum().item<double>();
}

double fid(const Moments& a, const Moments& b, TraceSqrtMethod method) {
  if (a.n < 2 || b.n < 2) return std::numeric_limits<double>::quiet_NaN();
  const double mean_term = (a.mean - b.mean).pow(2).sum().item<double>();
  const double tr_a = a.centred.pow(2).sum().item<double>() / (a.n - 1);
  const double tr_b = b.centred.pow(2).sum().item<double>() / (b.n - 1);
  return mean_term + tr_a + tr_b - 2 * trace_sqrt(a, b, method);
}

// Cubic polynomial kernel matrix (Binkowski et al.: degree 3, gamma 1/d, coef0 1).
torch::Tensor poly_kernel(const torch::Tensor& x, const torch::Tensor& y) {
  return (x.mm(y.t()) / static_cast<double>(x.size(1)) + 1).pow(3);
}

struct Kernels {
  torch::Tensor xx, yy, xy, diag_xx, diag_yy;
};

Kernels kernels(const torch::Tensor& x, const torch::Tensor& y) {
  Kernels k;
  k.xx = poly_kernel(x, x);
  k.yy = poly_kernel(y, y);
  k.xy = poly_kernel(x, y);
  k.diag_xx = k.xx.diagonal();
  k.diag_yy = k.yy.diagonal();
  return k;
}

// Unbiased MMD^2 where row i appears w_i times: the within-set sums run over pairs of distinct
// positions, so sum_{i != j} = w^T K w - sum_i w_i k_ii.
double kid(const Kernels& k, const torch::Tensor& wx, const torch::Tensor& wy) {
  const double m = wx.sum().item<double>();
  const double n = wy.sum().item<double>();
  if (m < 2 || n < 2) return std::numeric_limits<double>::quiet_NaN();
  const double sxx = wx.dot(k.xx.mv(wx)).item<double>() - (wx * k.diag_xx).sum().item<double>();
  const double syy = wy.dot(k.yy.mv(wy)).item<double>() - (wy * k.diag_yy).sum().item<double>();
  const double sxy = wx.dot(k.xy.mv(wy)).item<double>();
  return sxx / (m * (m - 1)) + syy / (n * (n - 1)) - 2 * sxy / (m * n);
}

void check_same_dims(const FeatureMatrix& x, const FeatureMatrix& y) {
  if (x.cols != y.cols) {
    throw Error(
        fmt::format("FID/KID: the two feature sets have {} and {} dimensions", x.cols, y.cols));
  }
}

torch::Tensor ones(std::int64_t n) {
  return torch::ones({n}, torch::kFloat64);
}

// Row indices per group, groups in name order (so the draws do not depend on row order).
std::vector<std::vector<std::int64_t>> group_rows(const std::vector<std::string>& groups,
                                                  std::int64_t rows) {
  CXRSYNTH_CHECK(groups.empty() || static_cast<std::int64_t>(groups.size()) == rows,
                 "FID/KID: {} group names for {} rows", groups.size(), rows);
  std::map<std::string, std::vector<std::int64_t>> by_name;
  for (std::int64_t i = 0; i < rows; ++i) {
    const bool named = !groups.empty() && !groups[static_cast<std::size_t>(i)].empty();
    by_name[named ? "g:" + groups[static_cast<std::size_t>(i)] : fmt::format("row:{:012d}", i)]
        .push_back(i);
  }
  std::vector<std::vector<std::int64_t>> out;
  for (auto& [name, idx] : by_name) out.push_back(std::move(idx));
  return out;
}

torch::Tensor draw_weights(const std::vector<std::vector<std::int64_t>>& groups, std::int64_t rows,
                           Rng& rng) {
  std::vector<double> w(static_cast<std::size_t>(rows), 0.0);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (const auto i : groups[rng.below(groups.size())]) w[static_cast<std::size_t>(i)] += 1;
  }
  return torch::tensor(w, torch::kFloat64);
}

// x and y projected onto the k leading principal components of their union.
std::pair<torch::Tensor, torch::Tensor> pca_project(const torch::Tensor& x, const torch::Tensor& y,
                                                    std::int64_t k) {
  const auto pooled = torch::cat({x, y});
  const auto c = pooled - pooled.mean(0);
  const auto cov = c.t().mm(c) / static_cast<double>(std::max<std::int64_t>(1, c.size(0) - 1));
  const auto [evals, evecs] = torch::linalg::eigh(cov, "L");  // ascending
  const auto top = evecs.slice(1, evecs.size(1) - k, evecs.size(1));
  return {x.mm(top), y.mm(top)};
}

}  // namespace

double trace_sqrt_product(const FeatureMatrix& x, const FeatureMatrix& y, TraceSqrtMethod method) {
  check_same_dims(x, y);
  const auto tx = to_tensor(x), ty = to_tensor(y);
  return trace_sqrt(moments(tx, ones(x.rows)), moments(ty, ones(y.rows)), method);
}

double frechet_distance(const FeatureMatrix& x, const FeatureMatrix& y) {
  check_same_dims(x, y);
  const auto tx = to_tensor(x), ty = to_tensor(y);
  return fid(moments(tx, ones(x.rows)), moments(ty, ones(y.rows)), TraceSqrtMethod::kAuto);
}

double kernel_distance(const FeatureMatrix& x, const FeatureMatrix& y) {
  check_same_dims(x, y);
  return kid(kernels(to_tensor(x), to_tensor(y)), ones(x.rows), ones(y.rows));
}

FidKidResult fid_kid_with_intervals(const FeatureMatrix& x,
                                    const std::vector<std::string>& groups_x,
                                    const FeatureMatrix& y,
                                    const std::vector<std::string>& groups_y, std::uint64_t seed,
                                    const FidKidOptions& o) {
  check_same_dims(x, y);
  if (o.draws < 1) throw UsageError(fmt::format("FID/KID: draws = {}: expected >= 1", o.draws));
  FidKidResult r;
  r.n_x = x.rows;
  r.n_y = y.rows;
  r.dims = x.cols;
  r.draws = o.draws;
  r.level = o.level;
  r.seed = seed;
  const auto gx = group_rows(groups_x, x.rows);
  const auto gy = group_rows(groups_y, y.rows);
  r.groups_x = static_cast<std::int64_t>(gx.size());
  r.groups_y = static_cast<std::int64_t>(gy.size());

  if (x.rows < o.small_sample || y.rows < o.small_sample) {
    r.warnings.push_back(fmt::format(
        "small sample ({} synthetic, {} real images; fewer than {} on a side): FID and KID are "
        "biased upward at small n and their intervals are wide; compare only runs with equal "
        "sample sizes",
        x.rows, y.rows, o.small_sample));
  }
  if (o.pca_dims < 0 || o.pca_dims > x.cols) {
    throw UsageError(
        fmt::format("audit.fid_pca_dims = {}: expected 0 (off) or 1..{} (the feature "
                    "dimensions)",
                    o.pca_dims, x.cols));
  }
  r.fid_dims = o.pca_dims > 0 ? o.pca_dims : x.cols;
  if (x.rows <= r.fid_dims || y.rows <= r.fid_dims) {
    r.warnings.push_back(fmt::format(
        "rank-deficient covariance: {} synthetic and {} real images for {} feature dimensions "
        "(FID needs more images than dimensions for full-rank covariances); the FID is still "
        "exact for these samples but grows as n shrinks, so compare FIDs only at equal n, or set "
        "audit.fid_pca_dims below the smaller sample size",
        x.rows, y.rows, r.fid_dims));
  }
  if (gx.size() < 2 || gy.size() < 2) {
    r.warnings.push_back("fewer than two patients on a side: the bootstrap intervals are empty");
  }

  const auto tx = to_tensor(x), ty = to_tensor(y);
  const auto k = kernels(tx, ty);
  auto [fx, fy] = o.pca_dims > 0 ? pca_project(tx, ty, o.pca_dims) : std::make_pair(tx, ty);
  r.fid.value = fid(moments(fx, ones(x.rows)), moments(fy, ones(y.rows)), TraceSqrtMethod::kAuto);
  r.kid.value = kid(k, ones(x.rows), ones(y.rows));

  std::vector<double> fids, kids;
  for (int b = 0; b < o.draws; ++b) {
    Rng rng(derive_seed(seed, fmt::format("draw/{}", b)));
    const auto wx = draw_weights(gx, x.rows, rng);
    const auto wy = draw_weights(gy, y.rows, rng);
    fids.push_back(fid(moments(fx, wx), moments(fy, wy), TraceSqrtMethod::kAuto));
    kids.push_back(kid(k, wx, wy));
  }
  const double lo_q = 100 * (1 - o.level) / 2, hi_q = 100 * (1 + o.level) / 2;
  r.fid.lo = eval::percentile(fids, lo_q);
  r.fid.hi = eval::percentile(fids, hi_q);
  r.kid.lo = eval::percentile(kids, lo_q);
  r.kid.hi = eval::percentile(kids, hi_q);
  return r;
}

}  // namespace cxrsynth::audit
