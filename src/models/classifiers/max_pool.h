// Internal: the ResNet / DenseNet stem's max pooling (3x3, stride 2, padding 1) for fp32
// NCHW-contiguous CPU tensors. LibTorch 1.13's max_pool2d_with_indices walks every output with
// a scalar loop (ResNet-50 / DenseNet-121 at 256 px: 1.6% / 3.1% of a one-thread training
// step for this one layer); this forward computes 8 outputs at a time from de-interleaved
// input rows, with ATen's rule (the first maximum in row-major window order wins, a NaN
// replaces the maximum), so values and indices are the same bytes as ATen's; the backward is
// ATen's max_pool2d_with_indices_backward with those indices. Other shapes, dtypes or layouts,
// or a CPU without AVX2, run torch::max_pool2d.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

namespace cxrsynth::models::detail {

// max_pool2d(x, kernel_size, stride, padding) (dilation 1, ceil_mode false).
at::Tensor max_pool2d(const at::Tensor& x, std::int64_t kernel_size, std::int64_t stride,
                      std::int64_t padding);

// Whether max_pool2d uses its own forward for x with a 3x3 / 2 / 1 window.
bool fused_max_pool_applies(const at::Tensor& x);

// Process-wide switch for A/B measurements (benchmarks) and tests; on by default.
void set_fused_max_pool_enabled(bool enabled);

// The forward alone: (values, int64 indices) as at::max_pool2d_with_indices (for tests).
std::tuple<at::Tensor, at::Tensor> max_pool_3x3s2p1_with_indices(const at::Tensor& x);

}  // namespace cxrsynth::models::detail
