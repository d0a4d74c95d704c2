#include "audit/nearest.h"

#include <torch/torch.h>

#include <cmath>
#include <limits>
#include <unordered_map>

#include "core/error.h"

namespace cxrsynth::audit {
namespace {

torch::Tensor as_tensor(const FeatureMatrix& m) {
  CXRSYNTH_CHECK(m.values.size() == static_cast<std::size_t>(m.rows * m.cols),
                 "feature matrix: {} values for {} x {}", m.values.size(), m.rows, m.cols);
  return torch::from_blob(const_cast<double*>(m.values.data()), {m.rows, m.cols}, torch::kFloat64);
}

// Group names as integers shared by both sides (-1 = no group).
std::pair<torch::Tensor, torch::Tensor> group_codes(const std::vector<std::string>& a,
                                                    std::int64_t na,
                                                    const std::vector<std::string>& b,
                                                    std::int64_t nb) {
  std::unordered_map<std::string, std::int64_t> codes;
  const auto encode = [&](const std::vector<std::string>& names, std::int64_t n) {
    std::vector<std::int64_t> out(static_cast<std::size_t>(n), -1);
    if (names.empty()) return torch::tensor(out, torch::kInt64);
    CXRSYNTH_CHECK(static_cast<std::int64_t>(names.size()) == n, "{} group names for {} rows",
                   names.size(), n);
    for (std::int64_t i = 0; i < n; ++i) {
      const auto& s = names[static_cast<std::size_t>(i)];
      if (!s.empty())
        out[static_cast<std::size_t>(i)] = codes.emplace(s, codes.size()).first->second;
    }
    return torch::tensor(out, torch::kInt64);
  };
  auto ca = encode(a, na);
  auto cb = encode(b, nb);
  return {ca, cb};
}

}  // namespace

Nearest nearest_neighbours(const FeatureMatrix& queries, const FeatureMatrix& refs,
                           const std::vector<std::string>& query_groups,
                           const std::vector<std::string>& ref_groups) {
  CXRSYNTH_CHECK(queries.cols == refs.cols || queries.rows == 0 || refs.rows == 0,
                 "nearest neighbours: {} vs {} dimensions", queries.cols, refs.cols);
  Nearest out;
  out.index.assign(static_cast<std::size_t>(queries.rows), -1);
  out.distance.assign(static_cast<std::size_t>(queries.rows),
                      std::numeric_limits<double>::quiet_NaN());
  if (queries.rows == 0 || refs.rows == 0) return out;
  torch::NoGradGuard no_grad;
  const auto q = as_tensor(queries);
  const auto r = as_tensor(refs);
  const auto r_norm = r.pow(2).sum(1);
  const auto [qg, rg] = group_codes(query_groups, queries.rows, ref_groups, refs.rows);
  const bool grouped = !query_groups.empty() && !ref_groups.empty();
  constexpr std::int64_t kChunk = 512;
  for (std::int64_t start = 0; start < queries.rows; start += kChunk) {
    const auto end = std::min(queries.rows, start + kChunk);
    const auto qc = q.slice(0, start, end);
    // |q - r|^2 = |q|^2 + |r|^2 - 2 q.r, clamped at 0 against round-off.
    auto d2 = (qc.pow(2).sum(1).unsqueeze(1) + r_norm.unsqueeze(0) - 2 * qc.mm(r.t())).clamp_min(0);
    if (grouped) {
      const auto same = qg.slice(0, start, end).unsqueeze(1) == rg.unsqueeze(0);
      const auto has_group = qg.slice(0, start, end).unsqueeze(1) >= 0;
      d2 = d2.masked_fill(same.logical_and(has_group), std::numeric_limits<double>::infinity());
    }
    const auto [best, arg] = d2.min(1);
    const auto best_a = best.accessor<double, 1>();
    const auto arg_a = arg.accessor<std::int64_t, 1>();
    for (std::int64_t i = 0; i < end - start; ++i) {
      if (!std::isfinite(best_a[i])) continue;
      const auto k = static_cast<std::size_t>(start + i);
      out.index[k] = arg_a[i];
      // Recomputed directly: exact 0 for identical rows, no cancellation in the expansion.
      out.distance[k] = row_distance(queries, start + i, refs, out.index[k]);
    }
  }
  return out;
}

double row_distance(const FeatureMatrix& a, std::int64_t q, const FeatureMatrix& b,
                    std::int64_t r) {
  const double* x = a.values.data() + q * a.cols;
  const double* y = b.values.data() + r * b.cols;
  double s = 0;
  for (std::int64_t k = 0; k < a.cols; ++k) s += (x[k] - y[k]) * (x[k] - y[k]);
  return std::sqrt(s);
}

FeatureMatrix zscore_rows(FeatureMatrix m) {
  const double scale = m.cols > 0 ? std::sqrt(static_cast<double>(m.cols)) : 1.0;
  for (std::int64_t i = 0; i < m.rows; ++i) {
    double* x = m.values.data() + i * m.cols;
    double mean = 0;
    for (std::int64_t k = 0; k < m.cols; ++k) mean += x[k];
    mean /= static_cast<double>(m.cols);
    double var = 0;
    for (std::int64_t k = 0; k < m.cols; ++k) var += (x[k] - mean) * (x[k] - mean);
    const double sd = std::sqrt(var / static_cast<double>(m.cols));
    for (std::int64_t k = 0; k < m.cols; ++k) x[k] = sd > 0 ? (x[k] - mean) / sd / scale : 0.0;
  }
  return m;
}

}  // namespace cxrsynth::audit
