// Internal: the classifiers' batch norm in training mode (optionally followed by ReLU, where
// torchvision has BatchNorm2d -> ReLU) as one custom autograd function, for fp32 NCHW-contiguous
// CPU tensors. LibTorch 1.13's batch_norm_cpu collects the statistics of an NCHW tensor with a
// scalar loop accumulating in double, then applies them in a third pass, and ReLU adds two
// more passes (forward and backward); this version collects both statistics per channel with
// vectorised float partial sums (flushed into double every 2,048 values), applies them with
// the ReLU in the same pass, and in backward masks the gradient with the ReLU's output while
// reducing. Same module, parameters and buffers (nn::BatchNorm2d): running statistics follow
// ATen's rules (momentum or cumulative average, unbiased variance for running_var, eps inside
// the square root, num_batches_tracked += 1). Results differ from ATen's at the rounding level
// (other summation order); each channel is reduced by one thread in a fixed order, so they do
// not depend on the thread count. Anything else (eval mode, other dtypes or layouts, no AVX2,
// affine = false, track_running_stats = false, one value per channel) runs the module's own
// forward (+ relu_), unchanged.
#pragma once

#include <torch/nn/modules/batchnorm.h>

#include <vector>

namespace cxrsynth::models::detail {

// bn(x), then ReLU when `relu`; the module's state is updated as its own forward would.
torch::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, bool relu);

// batch_norm(bn, cat(pieces, 1), relu) without the concatenation (DenseNet's layers): the
// fused kernels read each piece's planes in place and return each piece's gradient; the
// result equals batch_norm on the concatenated tensor bit for bit.
torch::Tensor batch_norm_cat(torch::nn::BatchNorm2dImpl& bn,
                             const std::vector<torch::Tensor>& pieces, bool relu);

// relu(bn(x) + identity): ResNet's last batch norm of a block, its residual add and ReLU in
// one pass (backward: one pass reads the output gradient and writes the masked one, which is
// the identity's gradient, the second reads that); outside the fused case bn.forward(x),
// add_(identity), relu_(), as before.
torch::Tensor batch_norm_add_relu(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x,
                                  const torch::Tensor& identity);

// Whether batch_norm uses the fused kernels for x (training mode aside): AVX2/FMA CPU, fp32,
// NCHW-contiguous, more than one value per channel, and not switched off below.
bool fused_batch_norm_applies(const torch::Tensor& x);

// Process-wide switch for A/B measurements (benchmarks) and tests; on by default.
void set_fused_batch_norm_enabled(bool enabled);

}  // namespace cxrsynth::models::detail
