#include "models/cyclegan/resnet_layers.h"

#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <torch/autograd.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <fmt/ranges.h>

#include "core/error.h"

namespace cxrsynth::models {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool fast_path_applies(const at::Tensor& x) {
  return x.dim() == 4 && x.device().is_cpu() && x.scalar_type() == at::kFloat &&
         x.is_contiguous() && !at::autocast::is_cpu_enabled() && x.numel() > 0;
}

// ---- reflection padding -------------------------------------------------------------------

// Source index of output position i (0 <= i < n + before + after) in a side of n.
inline std::int64_t reflect(std::int64_t i, std::int64_t before, std::int64_t n) {
  std::int64_t s = i - before;
  if (s < 0) s = -s;
  if (s >= n) s = 2 * (n - 1) - s;
  return s;
}

void pad_forward(const float* x, float* y, std::int64_t planes, std::int64_t h, std::int64_t w,
                 const std::array<std::int64_t, 4>& p) {
  const std::int64_t l = p[0], r = p[1], t = p[2], b = p[3];
  const std::int64_t ho = h + t + b, wo = w + l + r;
  at::parallel_for(0, planes, 1, [&](std::int64_t p0, std::int64_t p1) {
    for (std::int64_t q = p0; q < p1; ++q) {
      const float* xp = x + q * h * w;
      float* yp = y + q * ho * wo;
      for (std::int64_t i = 0; i < ho; ++i) {
        const float* xr = xp + reflect(i, t, h) * w;
        float* yr = yp + i * wo;
        for (std::int64_t j = 0; j < l; ++j) yr[j] = xr[l - j];
        std::memcpy(yr + l, xr, static_cast<std::size_t>(w) * sizeof(float));
        for (std::int64_t k = 0; k < r; ++k) yr[l + w + k] = xr[w - 2 - k];
      }
    }
  });
}

// gx[src row] += the output-gradient row folded onto the input columns, output rows in order.
__attribute__((target_clones("avx512f", "avx2", "default"))) void pad_backward_plane(
    const float* __restrict gy, float* __restrict gx, std::int64_t h, std::int64_t w,
    std::int64_t l, std::int64_t r, std::int64_t t, std::int64_t b) {
  const std::int64_t ho = h + t + b, wo = w + l + r;
  std::memset(gx, 0, static_cast<std::size_t>(h * w) * sizeof(float));
  for (std::int64_t i = 0; i < ho; ++i) {
    const float* gr = gy + i * wo;
    float* xr = gx + reflect(i, t, h) * w;
    const float* in = gr + l;
    for (std::int64_t j = 0; j < w; ++j) xr[j] += in[j];
    for (std::int64_t j = 0; j < l; ++j) xr[l - j] += gr[j];
    for (std::int64_t k = 0; k < r; ++k) xr[w - 2 - k] += gr[l + w + k];
  }
}

struct ReflectionPad : public torch::autograd::Function<ReflectionPad> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, std::int64_t left,
                            std::int64_t right, std::int64_t top, std::int64_t bottom) {
    const std::array<std::int64_t, 4> p{left, right, top, bottom};
    const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    ctx->saved_data["h"] = h;
    ctx->saved_data["w"] = w;
    ctx->saved_data["pad"] = std::vector<std::int64_t>(p.begin(), p.end());
    auto y = torch::empty({n, c, h + top + bottom, w + left + right}, x.options());
    pad_forward(x.data_ptr<float>(), y.data_ptr<float>(), n * c, h, w, p);
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto h = ctx->saved_data["h"].toInt(), w = ctx->saved_data["w"].toInt();
    const auto p = ctx->saved_data["pad"].toIntVector();
    const auto gy = grads[0].contiguous();
    auto gx = torch::empty({gy.size(0), gy.size(1), h, w}, gy.options());
    const float* g = gy.data_ptr<float>();
    float* o = gx.data_ptr<float>();
    const std::int64_t ho = gy.size(2), wo = gy.size(3);
    at::parallel_for(0, gy.size(0) * gy.size(1), 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t q = p0; q < p1; ++q) {
        pad_backward_plane(g + q * ho * wo, o + q * h * w, h, w, p[0], p[1], p[2], p[3]);
      }
    });
    return {gx, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// ---- nearest-neighbour upsampling by 2 -----------------------------------------------------

// One input row -> two output rows of twice the width.
__attribute__((target_clones("avx512f", "avx2", "default"))) void upsample_row(
    const float* __restrict x, float* __restrict y, std::int64_t w) {
  for (std::int64_t j = 0; j < w; ++j) {
    y[2 * j] = x[j];
    y[2 * j + 1] = x[j];
  }
  std::memcpy(y + 2 * w, y, static_cast<std::size_t>(2 * w) * sizeof(float));
}

// gx[j] = (g0[2j] + g1[2j]) + (g0[2j + 1] + g1[2j + 1]) for the two output-gradient rows g0, g1
// of one input row; sum: a 2w scratch row.
__attribute__((target_clones("avx512f", "avx2", "default"))) void upsample_grad_row(
    const float* __restrict g0, const float* __restrict g1, float* __restrict sum,
    float* __restrict gx, std::int64_t w) {
  for (std::int64_t k = 0; k < 2 * w; ++k) sum[k] = g0[k] + g1[k];
  for (std::int64_t j = 0; j < w; ++j) gx[j] = sum[2 * j] + sum[2 * j + 1];
}

struct UpsampleNearest2x : public torch::autograd::Function<UpsampleNearest2x> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x) {
    const auto n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    auto y = torch::empty({n, c, 2 * h, 2 * w}, x.options());
    const float* xp = x.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    at::parallel_for(0, n * c, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t q = p0; q < p1; ++q)
        for (std::int64_t i = 0; i < h; ++i)
          upsample_row(xp + (q * h + i) * w, yp + (q * 2 * h + 2 * i) * 2 * w, w);
    });
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto gy = grads[0].contiguous();
    const auto n = gy.size(0), c = gy.size(1), h = gy.size(2) / 2, w = gy.size(3) / 2;
    auto gx = torch::empty({n, c, h, w}, gy.options());
    const float* gp = gy.data_ptr<float>();
    float* op = gx.data_ptr<float>();
    at::parallel_for(0, n * c, 1, [&](std::int64_t p0, std::int64_t p1) {
      std::vector<float> sum(static_cast<std::size_t>(2 * w));
      for (std::int64_t q = p0; q < p1; ++q)
        for (std::int64_t i = 0; i < h; ++i) {
          const float* g0 = gp + (q * 2 * h + 2 * i) * 2 * w;
          upsample_grad_row(g0, g0 + 2 * w, sum.data(), op + (q * h + i) * w, w);
        }
    });
    return {gx};
  }
};

// ---- instance norm ------------------------------------------------------------------------

// 16 float lanes (GCC vector extension: one AVX-512 register, two AVX2 ones, four SSE ones in
// the target clones). The plain per-lane loops vectorised badly (transposes through memory).
constexpr int kLanes = 16;
typedef float Lanes __attribute__((vector_size(kLanes * sizeof(float))));

// (A macro, not a function returning a vector: a 64-byte vector return changes the ABI
// between the target clones.)
#define CXRSYNTH_LOAD_LANES(v, p) std::memcpy(&(v), (p), sizeof(Lanes))

// The lanes added in a fixed order, in double.
inline double total(const Lanes& v) {
  double s = 0.0;
  for (int l = 0; l < kLanes; ++l) s += v[l];
  return s;
}

// Sum of a[k]: 16 float partial sums over fixed positions, added in a fixed order in double;
// the tail in double.
__attribute__((target_clones("avx512f", "avx2", "default"))) double lane_sum(
    const float* __restrict a, std::int64_t n) {
  Lanes part = {};
  const std::int64_t blocks = n / kLanes;
  for (std::int64_t k = 0; k < blocks; ++k) {
    Lanes v;
    CXRSYNTH_LOAD_LANES(v, a + k * kLanes);
    part += v;
  }
  double s = total(part);
  for (std::int64_t k = blocks * kLanes; k < n; ++k) s += a[k];
  return s;
}

// Sum of (a[k] - m)^2, as lane_sum.
__attribute__((target_clones("avx512f", "avx2", "default"))) double lane_sq_dev(
    const float* __restrict a, float m, std::int64_t n) {
  Lanes part = {};
  const std::int64_t blocks = n / kLanes;
  for (std::int64_t k = 0; k < blocks; ++k) {
    Lanes d;
    CXRSYNTH_LOAD_LANES(d, a + k * kLanes);
    d -= m;
    part += d * d;
  }
  double s = total(part);
  for (std::int64_t k = blocks * kLanes; k < n; ++k) {
    const float d = a[k] - m;
    s += d * d;
  }
  return s;
}

// y = (x - m) * s
__attribute__((target_clones("avx512f", "avx2", "default"))) void normalise(
    const float* __restrict x, float* __restrict y, float m, float s, std::int64_t n) {
  for (std::int64_t k = 0; k < n; ++k) y[k] = (x[k] - m) * s;
}

// Sums of gy and gy * (x - m) over one plane (the backward's two reductions), as lane_sum.
__attribute__((target_clones("avx512f", "avx2", "default"))) void grad_sums(
    const float* __restrict gy, const float* __restrict x, float m, std::int64_t n, double* sg,
    double* sgx) {
  Lanes pg = {}, px = {};
  const std::int64_t blocks = n / kLanes;
  for (std::int64_t k = 0; k < blocks; ++k) {
    Lanes g, v;
    CXRSYNTH_LOAD_LANES(g, gy + k * kLanes);
    CXRSYNTH_LOAD_LANES(v, x + k * kLanes);
    pg += g;
    px += g * (v - m);
  }
  double a = total(pg), c = total(px);
  for (std::int64_t k = blocks * kLanes; k < n; ++k) {
    a += gy[k];
    c += static_cast<double>(gy[k] * (x[k] - m));
  }
  *sg = a;
  *sgx = c;
}

// gx = (gy - mean(gy) - (x - m) * k) * s
__attribute__((target_clones("avx512f", "avx2", "default"))) void grad_input(
    const float* __restrict gy, const float* __restrict x, float* __restrict gx, float m,
    float mean_g, float k, float s, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) gx[i] = (gy[i] - mean_g - (x[i] - m) * k) * s;
}

struct InstanceNorm : public torch::autograd::Function<InstanceNorm> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, double eps) {
    const std::int64_t planes = x.size(0) * x.size(1), n = x.size(2) * x.size(3);
    auto y = torch::empty_like(x);
    auto stats = torch::empty({2, planes}, x.options());  // mean, 1 / std
    const float* xp = x.data_ptr<float>();
    float* yp = y.data_ptr<float>();
    float* mp = stats.data_ptr<float>();
    float* sp = mp + planes;
    at::parallel_for(0, planes, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t q = p0; q < p1; ++q) {
        const float* a = xp + q * n;
        const auto mean = static_cast<float>(lane_sum(a, n) / static_cast<double>(n));
        const double var = lane_sq_dev(a, mean, n) / static_cast<double>(n);
        const auto inv = static_cast<float>(1.0 / std::sqrt(var + eps));
        mp[q] = mean;
        sp[q] = inv;
        normalise(a, yp + q * n, mean, inv, n);
      }
    });
    ctx->save_for_backward({x, stats});
    return y;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& stats = saved[1];
    const auto gy = grads[0].contiguous();
    const std::int64_t planes = x.size(0) * x.size(1), n = x.size(2) * x.size(3);
    auto gx = torch::empty_like(x);
    const float* xp = x.data_ptr<float>();
    const float* gp = gy.data_ptr<float>();
    float* op = gx.data_ptr<float>();
    const float* mp = stats.data_ptr<float>();
    const float* sp = mp + planes;
    at::parallel_for(0, planes, 1, [&](std::int64_t p0, std::int64_t p1) {
      for (std::int64_t q = p0; q < p1; ++q) {
        double sg = 0.0, sgx = 0.0;
        grad_sums(gp + q * n, xp + q * n, mp[q], n, &sg, &sgx);
        const double s = sp[q];
        const auto mean_g = static_cast<float>(sg / static_cast<double>(n));
        const auto k = static_cast<float>(sgx * s * s / static_cast<double>(n));
        grad_input(gp + q * n, xp + q * n, op + q * n, mp[q], mean_g, k, sp[q], n);
      }
    });
    return {gx, at::Tensor()};
  }
};

}  // namespace

at::Tensor fast_reflection_pad2d(const at::Tensor& x, std::array<std::int64_t, 4> pad) {
  CXRSYNTH_CHECK(x.dim() == 4, "fast_reflection_pad2d: input [{}] is not [N, C, H, W]",
                 fmt::join(x.sizes(), ", "));
  CXRSYNTH_CHECK(pad[0] >= 0 && pad[1] >= 0 && pad[2] >= 0 && pad[3] >= 0 && pad[0] < x.size(3) &&
                     pad[1] < x.size(3) && pad[2] < x.size(2) && pad[3] < x.size(2),
                 "fast_reflection_pad2d: padding ({}) must be below the input's sides [{}]",
                 fmt::join(pad, ", "), fmt::join(x.sizes(), ", "));
  if (!fast_path_applies(x)) return at::reflection_pad2d(x, pad);
  return ReflectionPad::apply(x, pad[0], pad[1], pad[2], pad[3]);
}

at::Tensor fast_upsample_nearest2x(const at::Tensor& x) {
  CXRSYNTH_CHECK(x.dim() == 4, "fast_upsample_nearest2x: input [{}] is not [N, C, H, W]",
                 fmt::join(x.sizes(), ", "));
  if (!fast_path_applies(x)) {
    return at::upsample_nearest2d(x, {2 * x.size(2), 2 * x.size(3)}, 2.0, 2.0);
  }
  return UpsampleNearest2x::apply(x);
}

at::Tensor fast_instance_norm2d(const at::Tensor& x, double eps) {
  CXRSYNTH_CHECK(x.dim() == 4, "fast_instance_norm2d: input [{}] is not [N, C, H, W]",
                 fmt::join(x.sizes(), ", "));
  if (!fast_path_applies(x)) {
    return at::instance_norm(x, {}, {}, {}, {}, /*use_input_stats=*/true, 0.1, eps,
                             /*cudnn_enabled=*/false);
  }
  return InstanceNorm::apply(x, eps);
}

at::Tensor FastReflectionPad2dImpl::forward(const at::Tensor& x) {
  const auto& p = *options.padding();
  return fast_reflection_pad2d(x, {p[0], p[1], p[2], p[3]});
}

at::Tensor FastInstanceNorm2dImpl::forward(const at::Tensor& x) {
  CXRSYNTH_CHECK(x.dim() == 4 && x.size(1) == channels_,
                 "InstanceNorm2d({}): input [{}] is not [N, {}, H, W]", channels_,
                 fmt::join(x.sizes(), ", "), channels_);
  return fast_instance_norm2d(x, eps_);
}

void FastInstanceNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "cxrsynth::models::FastInstanceNorm2d(" << channels_ << ", eps=" << eps_ << ")";
}

at::Tensor FastUpsampleNearest2xImpl::forward(const at::Tensor& x) {
  return fast_upsample_nearest2x(x);
}

void FastUpsampleNearest2xImpl::pretty_print(std::ostream& stream) const {
  stream << "cxrsynth::models::FastUpsampleNearest2x()";
}

}  // namespace cxrsynth::models
