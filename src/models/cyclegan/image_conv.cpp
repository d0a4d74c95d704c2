#include "models/cyclegan/image_conv.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/autograd.h>
#include <torch/torch.h>

#include <cstring>
#include <vector>

#include <fmt/ranges.h>

#include "core/error.h"

namespace cxrsynth::models {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int kLanes = 16;
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));

// The 16-lane partial sums of weight_grad_rows for a kernel width KW known at compile time:
// for each kernel row i, the KW sums of that row stay in registers over all output rows and
// column blocks (independent chains, so the FMAs do not wait on each other; the generic loop
// below keeps one sum in flight and waited 4 cycles per FMA). The same additions in the same
// order per lane as the generic loop.
template <int KW>
__attribute__((always_inline)) inline void partial_sums_kw(const float* __restrict go,
                                                           const float* __restrict xc,
                                                           float* __restrict part, std::int64_t ho,
                                                           std::int64_t wo, std::int64_t kh,
                                                           std::int64_t w_in, std::int64_t blocks) {
  for (std::int64_t i = 0; i < kh; ++i) {
    Lanes acc[KW];
    for (int j = 0; j < KW; ++j) std::memcpy(&acc[j], part + (i * KW + j) * kLanes, sizeof(Lanes));
    for (std::int64_t h = 0; h < ho; ++h) {
      const float* gr = go + h * wo;
      const float* xr = xc + (h + i) * w_in;
      for (std::int64_t b = 0; b < blocks; ++b) {
        Lanes g;
        std::memcpy(&g, gr + b * kLanes, sizeof(Lanes));
        for (int j = 0; j < KW; ++j) {
          Lanes v;
          std::memcpy(&v, xr + b * kLanes + j, sizeof(Lanes));
          acc[j] += g * v;
        }
      }
    }
    for (int j = 0; j < KW; ++j) std::memcpy(part + (i * KW + j) * kLanes, &acc[j], sizeof(Lanes));
  }
}

// g[c][i][j] += sum over h, w of go[h][w] * x[c][h + i][w + j] for one image, channels
// [c0, c1). go: Ho x Wo, x: Cin planes of H x W (H = Ho + kh - 1, W = Wo + kw - 1), row-major.
// 16 partial sums per (i, j), each over a fixed set of columns, then added in a fixed order:
// the same bits for any thread count.
__attribute__((target_clones("avx512f", "avx2", "default"))) void weight_grad_rows(
    const float* __restrict go, const float* __restrict x, float* __restrict g, std::int64_t c0,
    std::int64_t c1, std::int64_t ho, std::int64_t wo, std::int64_t kh, std::int64_t kw) {
  const std::int64_t h_in = ho + kh - 1, w_in = wo + kw - 1;
  const std::int64_t blocks = wo / kLanes;
  std::vector<float> part(static_cast<std::size_t>(kh * kw * kLanes));
  std::vector<double> tail(static_cast<std::size_t>(kh * kw));
  for (std::int64_t c = c0; c < c1; ++c) {
    std::fill(part.begin(), part.end(), 0.0f);
    std::fill(tail.begin(), tail.end(), 0.0);
    const float* xc = x + c * h_in * w_in;
    if (kw == 3) {
      partial_sums_kw<3>(go, xc, part.data(), ho, wo, kh, w_in, blocks);
    } else if (kw == 4) {
      partial_sums_kw<4>(go, xc, part.data(), ho, wo, kh, w_in, blocks);
    } else if (kw == 7) {
      partial_sums_kw<7>(go, xc, part.data(), ho, wo, kh, w_in, blocks);
    } else {
      for (std::int64_t h = 0; h < ho; ++h) {
        const float* gr = go + h * wo;
        for (std::int64_t i = 0; i < kh; ++i) {
          const float* xr = xc + (h + i) * w_in;
          for (std::int64_t j = 0; j < kw; ++j) {
            float* p = part.data() + (i * kw + j) * kLanes;
            const float* xs = xr + j;
            for (std::int64_t b = 0; b < blocks; ++b) {
              for (int l = 0; l < kLanes; ++l) p[l] += gr[b * kLanes + l] * xs[b * kLanes + l];
            }
          }
        }
      }
    }
    if (blocks * kLanes < wo) {
      for (std::int64_t h = 0; h < ho; ++h) {
        const float* gr = go + h * wo;
        for (std::int64_t i = 0; i < kh; ++i) {
          const float* xr = xc + (h + i) * w_in;
          for (std::int64_t j = 0; j < kw; ++j) {
            const float* xs = xr + j;
            double t = 0.0;
            for (std::int64_t w = blocks * kLanes; w < wo; ++w) t += gr[w] * xs[w];
            tail[static_cast<std::size_t>(i * kw + j)] += t;
          }
        }
      }
    }
    for (std::int64_t ij = 0; ij < kh * kw; ++ij) {
      double s = tail[static_cast<std::size_t>(ij)];
      for (int l = 0; l < kLanes; ++l) s += part[static_cast<std::size_t>(ij * kLanes + l)];
      g[c * kh * kw + ij] += static_cast<float>(s);
    }
  }
}

// grad_weight [1, Cin, kh, kw] of the 1-output-channel convolution: a direct correlation of
// each input channel with the output gradient (no im2col), channels in parallel.
at::Tensor one_channel_weight_grad(const at::Tensor& x, const at::Tensor& go, std::int64_t kh,
                                   std::int64_t kw) {
  const auto xf = x.contiguous().to(at::kFloat);
  const auto gf = go.contiguous().to(at::kFloat);
  const std::int64_t n = xf.size(0), cin = xf.size(1), ho = gf.size(2), wo = gf.size(3);
  auto grad = torch::zeros({1, cin, kh, kw}, xf.options());
  const float* xp = xf.data_ptr<float>();
  const float* gp = gf.data_ptr<float>();
  float* out = grad.data_ptr<float>();
  const std::int64_t plane = xf.size(2) * xf.size(3);
  for (std::int64_t b = 0; b < n; ++b) {
    at::parallel_for(0, cin, 1, [&](std::int64_t c0, std::int64_t c1) {
      weight_grad_rows(gp + b * ho * wo, xp + b * cin * plane, out, c0, c1, ho, wo, kh, kw);
    });
  }
  return grad.to(x.scalar_type());
}

// One filter [1, kh, kw] per channel, stride 1, no padding.
at::Tensor depthwise(const at::Tensor& x, const at::Tensor& filters) {
  const std::int64_t one[] = {1, 1}, zero[] = {0, 0};
  return at::conv2d(x, filters, c10::optional<at::Tensor>(), one, zero, one, filters.size(0));
}

struct OneChannelConv : public torch::autograd::Function<OneChannelConv> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias) {
    const auto cin = weight.size(1), kh = weight.size(2), kw = weight.size(3);
    ctx->save_for_backward({x, weight});
    auto y = depthwise(x, weight.reshape({cin, 1, kh, kw})).sum(1, true);
    y.add_(bias.reshape({1, 1, 1, 1}));
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto go = grads[0].contiguous();
    const auto cin = weight.size(1), kh = weight.size(2), kw = weight.size(3);
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) {
      // dL/dx_c = full correlation of go with the flipped filter c: a depthwise convolution
      // of go, padded by the kernel size - 1 and repeated over the channels.
      const auto padded = at::constant_pad_nd(go, {kw - 1, kw - 1, kh - 1, kh - 1});
      const auto repeated = padded.expand({go.size(0), cin, padded.size(2), padded.size(3)});
      gx = depthwise(repeated, weight.flip({2, 3}).reshape({cin, 1, kh, kw}));
    }
    if (ctx->needs_input_grad(1)) gw = one_channel_weight_grad(x, go, kh, kw);
    if (ctx->needs_input_grad(2)) gb = go.sum().reshape({1});
    return {gx, gw, gb};
  }
};

// The first convolution of a generator, from a 1-channel image to C_out channels: forward
// the plain convolution; backward the mirror of OneChannelConv's (the input gradient, when
// the input needs one, a depthwise convolution of the padded output gradient with the
// flipped filters summed over channels; the weight gradient the direct correlation).
struct FromOneChannelConv : public torch::autograd::Function<FromOneChannelConv> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const at::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return at::conv2d(x, weight, bias);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto go = grads[0].contiguous();
    const auto cout = weight.size(0), kh = weight.size(2), kw = weight.size(3);
    at::Tensor gx, gw, gb;
    if (ctx->needs_input_grad(0)) {
      const auto padded = at::constant_pad_nd(go, {kw - 1, kw - 1, kh - 1, kh - 1});
      gx = depthwise(padded, weight.flip({2, 3})).sum(1, true);
    }
    if (ctx->needs_input_grad(1)) {
      const auto xf = x.contiguous().to(at::kFloat);
      const auto gf = go.to(at::kFloat);
      const std::int64_t n = xf.size(0), ho = gf.size(2), wo = gf.size(3);
      const std::int64_t plane = xf.size(2) * xf.size(3);
      auto grad = torch::zeros({cout, 1, kh, kw}, xf.options());
      const float* xp = xf.data_ptr<float>();
      const float* gp = gf.data_ptr<float>();
      float* out = grad.data_ptr<float>();
      // Output channels in parallel, each summing the images in order.
      at::parallel_for(0, cout, 1, [&](std::int64_t o0, std::int64_t o1) {
        for (std::int64_t o = o0; o < o1; ++o)
          for (std::int64_t b = 0; b < n; ++b)
            weight_grad_rows(gp + (b * cout + o) * ho * wo, xp + b * plane, out + o * kh * kw, 0, 1,
                             ho, wo, kh, kw);
      });
      gw = grad.to(weight.scalar_type());
    }
    if (ctx->needs_input_grad(2)) gb = go.sum({0, 2, 3});
    return {gx, gw, gb};
  }
};

}  // namespace

at::Tensor conv2d_from_one_channel(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& bias) {
  CXRSYNTH_CHECK(weight.dim() == 4 && weight.size(1) == 1 && x.dim() == 4 && x.size(1) == 1,
                 "conv2d_from_one_channel: input [{}] and weight [{}] do not match",
                 fmt::join(x.sizes(), ", "), fmt::join(weight.sizes(), ", "));
  return FromOneChannelConv::apply(
      x, weight, bias.defined() ? bias : torch::zeros({weight.size(0)}, x.options()));
}

at::Tensor conv2d_to_one_channel(const at::Tensor& x, const at::Tensor& weight,
                                 const at::Tensor& bias) {
  CXRSYNTH_CHECK(
      weight.dim() == 4 && weight.size(0) == 1 && x.dim() == 4 && x.size(1) == weight.size(1),
      "conv2d_to_one_channel: input [{}] and weight [{}] do not match", fmt::join(x.sizes(), ", "),
      fmt::join(weight.sizes(), ", "));
  // (LibTorch 1.13's Function::apply takes defined tensors only: no bias = a zero one that
  // needs no gradient.)
  return OneChannelConv::apply(x, weight, bias.defined() ? bias : torch::zeros({1}, x.options()));
}

at::Tensor ImageConv2dImpl::forward(const at::Tensor& x) {
  const auto& o = options;
  bool zero_padding = false;
  if (const auto* p = c10::get_if<torch::ExpandingArray<2>>(&o.padding())) {
    zero_padding = (**p)[0] == 0 && (**p)[1] == 0;
  }
  // CPU fp32 only (autocast and GPUs keep the plain convolution).
  const bool applies = zero_padding && (o.out_channels() == 1 || o.in_channels() == 1) &&
                       o.groups() == 1 && x.device().is_cpu() && x.scalar_type() == at::kFloat &&
                       !at::autocast::is_cpu_enabled() && (*o.stride())[0] == 1 &&
                       (*o.stride())[1] == 1 && (*o.dilation())[0] == 1 && (*o.dilation())[1] == 1;
  if (!applies) return torch::nn::Conv2dImpl::forward(x);
  if (o.out_channels() == 1) return conv2d_to_one_channel(x, weight, bias);
  return conv2d_from_one_channel(x, weight, bias);
}

}  // namespace cxrsynth::models
