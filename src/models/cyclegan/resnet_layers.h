// Three layers of the ResNet generator computed another way, at the same Sequential indices (so
// the same parameter names: neither layer has parameters or buffers) and with the same
// results up to float rounding:
//
// - ReflectionPad2d: LibTorch 1.13's CPU reflection padding and its backward are a scalar loop
//   with a branch per pixel. Here every output row is one copy of an input row plus its two
//   borders, and the backward folds each output-gradient row into the input row it came from
//   (rows in a fixed order: the same bits for any thread count). Forward bit-identical to
//   ATen's.
// - InstanceNorm2d without affine and without running statistics (the reference CycleGAN's):
//   ATen 1.13 computes the statistics in a scalar double loop per channel (two passes) and the
//   backward through batch norm. Here both statistics and the backward's two sums use 16 float
//   partial sums per plane, added in a fixed order in double (deterministic for any thread
//   count, planes in parallel).
// - Upsample(2, nearest): ATen 1.13's CPU kernel computes a source index per output pixel
//   (about 1 ms forward and 0.7 ms backward per call from 64 to 128 px with 32 channels, one
//   thread, PyTorch 1.13). Here each input row is doubled once and copied to the second output
//   row; the backward adds the two output rows, then neighbouring pairs.
//
// In a cpu-small CycleGAN step (16 filters, 128 px, one thread) padding and instance norm took
// 4.5% and 3.2% of the time, upsampling about 4% (benchmarks/gan_train/README.md). All three
// are CPU fp32 only, for contiguous NCHW input and no autocast; anything else takes the plain
// ATen path. Their backward is not itself
// differentiable: they are used in the generators only, which are never differentiated twice
// (the WGAN-GP penalty differentiates the discriminator twice, which keeps ATen's layers).
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/cloneable.h>
#include <torch/nn/functional/padding.h>
#include <torch/nn/modules/padding.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <ostream>

namespace cxrsynth::models {

// x [N, C, H, W] -> [N, C, H + top + bottom, W + left + right], each pad < the side it pads.
// pad = {left, right, top, bottom} as torch's. Differentiable in x.
at::Tensor fast_reflection_pad2d(const at::Tensor& x, std::array<std::int64_t, 4> pad);

// Nearest-neighbour upsampling by 2: [N, C, H, W] -> [N, C, 2H, 2W]. Differentiable in x.
at::Tensor fast_upsample_nearest2x(const at::Tensor& x);

// Per-(image, channel) normalisation, biased variance, no affine: [N, C, H, W] -> same shape.
// Differentiable in x.
at::Tensor fast_instance_norm2d(const at::Tensor& x, double eps);

class FastReflectionPad2dImpl : public torch::nn::ReflectionPad2dImpl {
 public:
  using torch::nn::ReflectionPad2dImpl::ReflectionPad2dImpl;
  at::Tensor forward(const at::Tensor& x);
};
TORCH_MODULE(FastReflectionPad2d);

// nn.Upsample(scale_factor=2, mode='nearest'): no parameters or buffers.
class FastUpsampleNearest2xImpl : public torch::nn::Cloneable<FastUpsampleNearest2xImpl> {
 public:
  void reset() override {}
  at::Tensor forward(const at::Tensor& x);
  void pretty_print(std::ostream& stream) const override;
};
TORCH_MODULE(FastUpsampleNearest2x);

// nn.InstanceNorm2d(channels, eps) as the reference CycleGAN's (affine=False,
// track_running_stats=False): no parameters and no buffers, so a module of its own (LibTorch
// 1.13 exports no InstanceNormImpl<2> to derive from). Other than CPU fp32 contiguous input
// without autocast: ATen's instance norm.
class FastInstanceNorm2dImpl : public torch::nn::Cloneable<FastInstanceNorm2dImpl> {
 public:
  FastInstanceNorm2dImpl(std::int64_t channels, double eps) : channels_(channels), eps_(eps) {}
  void reset() override {}
  at::Tensor forward(const at::Tensor& x);
  void pretty_print(std::ostream& stream) const override;

 private:
  std::int64_t channels_;
  double eps_;
};
TORCH_MODULE(FastInstanceNorm2d);

}  // namespace cxrsynth::models
