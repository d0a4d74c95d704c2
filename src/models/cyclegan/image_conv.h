// The generators' last convolution, to a 1-channel image (C_out = 1, stride 1, no padding:
// the generators pad explicitly before it), computed another way with the same parameters.
//
// oneDNN pads a 1-channel output to 16 channels and LibTorch's CPU backward goes through a
// large im2col: in a cpu-small CycleGAN step (16 filters, 128 px) this one layer took 14% of
// the time for 0.1% of the FLOPs (7x7, 16 -> 1: 3.8 ms forward, 8.5 ms backward per call, one
// thread; benchmarks/README.md, P1). Written as a depthwise convolution (one 1-channel filter
// per input channel) summed over channels it is the same function: forward 0.5 ms, the input
// gradient a depthwise convolution of the padded output gradient with the flipped filters
// (0.5 ms), the weight gradient a direct correlation (this file's kernel), the bias gradient a
// sum. Results equal the plain convolution up to float rounding (another summation order; the
// test holds them to 1e-5 relative), deterministically.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

namespace cxrsynth::models {

// x [N, Cin, H, W], weight [1, Cin, kh, kw], bias [1] or undefined -> [N, 1, H-kh+1, W-kw+1].
// Differentiable in all three.
at::Tensor conv2d_to_one_channel(const at::Tensor& x, const at::Tensor& weight,
                                 const at::Tensor& bias);

// The generators' first convolution, from a 1-channel image: x [N, 1, H, W], weight
// [Cout, 1, kh, kw], bias [Cout] or undefined -> [N, Cout, H-kh+1, W-kw+1]. Forward the plain
// convolution; backward as the last layer's in reverse: the weight gradient the same direct
// correlation (LibTorch's CPU backward went through an im2col: 1.9% of a cpu-small step), the
// input gradient (only when the input needs one: not for the real images) a depthwise
// convolution of the padded output gradient summed over channels. Differentiable in all three
// (once: not twice).
at::Tensor conv2d_from_one_channel(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& bias);

// A Conv2d (same parameters, names and initialisation) whose forward uses
// conv2d_to_one_channel (1 output channel) or conv2d_from_one_channel (1 input channel) when
// it applies (stride 1, no padding, dilation 1, groups 1, CPU fp32, no autocast) and the plain
// convolution otherwise.
class ImageConv2dImpl : public torch::nn::Conv2dImpl {
 public:
  using torch::nn::Conv2dImpl::Conv2dImpl;
  at::Tensor forward(const at::Tensor& x);
};
TORCH_MODULE(ImageConv2d);

}  // namespace cxrsynth::models
