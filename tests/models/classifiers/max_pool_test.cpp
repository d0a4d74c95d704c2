// The stem's max pooling (models/classifiers/max_pool.h): values, indices and input gradients
// are the same bytes as ATen's max_pool2d_with_indices (and its backward) for even and odd
// plane sizes, ties (first maximum wins), -inf and NaN; other windows fall back to ATen.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <limits>

#include "models/classifiers/max_pool.h"

namespace cxrsynth::models {
namespace {

using detail::fused_max_pool_applies;
using detail::max_pool2d;
using detail::max_pool_3x3s2p1_with_indices;

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type() &&
         torch::equal(a.view(torch::kUInt8), b.view(torch::kUInt8));
}

TEST(StemMaxPool, SameValuesIndicesAndGradientsAsAten) {
  if (!fused_max_pool_applies(torch::zeros({1, 1, 4, 4}))) GTEST_SKIP() << "no AVX2/FMA";
  torch::manual_seed(7);
  // widths: below, at and above one vector of 8 outputs, odd and even; heights odd and even
  for (const auto& hw : std::vector<std::pair<int, int>>{
           {2, 2}, {3, 5}, {7, 18}, {17, 19}, {16, 33}, {20, 40}, {9, 64}}) {
    SCOPED_TRACE(::testing::Message() << hw.first << "x" << hw.second);
    auto x = torch::randn({2, 3, hw.first, hw.second});
    // ties: coarse values; special values in some places
    x.index_put_({0}, torch::round(x.index({0}) * 2));
    auto flat = x.view(-1);
    flat.index_put_({torch::arange(0, flat.numel(), 13)}, -std::numeric_limits<float>::infinity());
    flat.index_put_({torch::arange(5, flat.numel(), 97)}, std::numeric_limits<float>::quiet_NaN());
    x.index_put_({1, 2}, -std::numeric_limits<float>::infinity());  // a plane of -inf only
    const auto [v, i] = max_pool_3x3s2p1_with_indices(x);
    const auto [rv, ri] = at::max_pool2d_with_indices(x, {3, 3}, {2, 2}, {1, 1});
    EXPECT_TRUE(same_bytes(v, rv));
    EXPECT_TRUE(same_bytes(i, ri));

    const auto clean = torch::randn({2, 3, hw.first, hw.second});
    const auto g = torch::randn_like(rv);
    auto a = clean.clone().requires_grad_(true), b = clean.clone().requires_grad_(true);
    (max_pool2d(a, 3, 2, 1) * g).sum().backward();
    (torch::max_pool2d(b, 3, 2, 1) * g).sum().backward();
    EXPECT_TRUE(same_bytes(a.grad(), b.grad()));
  }
}

TEST(StemMaxPool, OtherWindowsAndLayoutsFallBack) {
  EXPECT_FALSE(fused_max_pool_applies(torch::zeros({1, 1, 4, 4}, torch::kFloat64)));
  EXPECT_FALSE(fused_max_pool_applies(
      torch::zeros({2, 3, 4, 4}).contiguous(torch::MemoryFormat::ChannelsLast)));
  const auto x = torch::randn({2, 3, 9, 9});
  EXPECT_TRUE(torch::equal(max_pool2d(x, 2, 2, 0), torch::max_pool2d(x, 2, 2, 0)));
}

}  // namespace
}  // namespace cxrsynth::models
