#include "models/classifiers/batch_norm.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CXRSYNTH_BN_AVX2 1
#endif

namespace cxrsynth::models::detail {

namespace {

std::atomic<bool> g_enabled{true};

#ifdef CXRSYNTH_BN_AVX2

// Float partial sums are flushed into the double total every kChunk values: at most 64 float
// additions per lane before a flush (4 accumulators x 8 lanes).
constexpr std::int64_t kChunk = 2048;

__attribute__((target("avx2,fma"))) double hsum(__m256 v) {
  alignas(32) float f[8];
  _mm256_store_ps(f, v);
  double s = 0;
  for (float x : f) s += x;
  return s;
}

// sum(p[0..n)) and sum((p[i] - m)^2)
__attribute__((target("avx2,fma"))) void plane_sums(const float* p, std::int64_t n, float m,
                                                    double& sum, double& sumsq) {
  const __m256 vm = _mm256_set1_ps(m);
  for (std::int64_t i = 0; i < n;) {
    const std::int64_t end = std::min(n, i + kChunk);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, q0 = s0, q1 = s0;
    for (; i + 16 <= end; i += 16) {
      const __m256 a = _mm256_loadu_ps(p + i), b = _mm256_loadu_ps(p + i + 8);
      s0 = _mm256_add_ps(s0, a);
      s1 = _mm256_add_ps(s1, b);
      const __m256 da = _mm256_sub_ps(a, vm), db = _mm256_sub_ps(b, vm);
      q0 = _mm256_fmadd_ps(da, da, q0);
      q1 = _mm256_fmadd_ps(db, db, q1);
    }
    double ts = 0, tq = 0;
    for (; i < end; ++i) {
      const float d = p[i] - m;
      ts += p[i];
      tq += static_cast<double>(d) * d;
    }
    sum += hsum(_mm256_add_ps(s0, s1)) + ts;
    sumsq += hsum(_mm256_add_ps(q0, q1)) + tq;
  }
}

// y = max(0, (x * scale + shift) + id): batch norm, residual add, ReLU (each result rounded
// to float as the three ATen operations round it, up to the batch norm's own rounding).
__attribute__((target("avx2,fma"))) void plane_apply_add_relu(const float* x, const float* id,
                                                              float* y, std::int64_t n, float scale,
                                                              float shift) {
  const __m256 va = _mm256_set1_ps(scale), vb = _mm256_set1_ps(shift), zero = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v =
        _mm256_add_ps(_mm256_fmadd_ps(_mm256_loadu_ps(x + i), va, vb), _mm256_loadu_ps(id + i));
    _mm256_storeu_ps(y + i, _mm256_max_ps(zero, v));
  }
  for (; i < n; ++i) {
    const float v = std::fma(x[i], scale, shift) + id[i];
    y[i] = v > 0.f || std::isnan(v) ? v : 0.f;
  }
}

__attribute__((target("avx2,fma"))) void plane_apply(const float* x, float* y, std::int64_t n,
                                                     float scale, float shift, bool relu) {
  const __m256 va = _mm256_set1_ps(scale), vb = _mm256_set1_ps(shift), zero = _mm256_setzero_ps();
  std::int64_t i = 0;
  if (relu) {
    // max(0, v): NaN propagates (as ATen's relu), since _mm256_max_ps returns its second
    // operand when either is NaN.
    for (; i + 8 <= n; i += 8) {
      _mm256_storeu_ps(y + i, _mm256_max_ps(zero, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), va, vb)));
    }
    for (; i < n; ++i) {
      const float v = std::fma(x[i], scale, shift);
      y[i] = v > 0.f || std::isnan(v) ? v : 0.f;
    }
  } else {
    for (; i + 8 <= n; i += 8) {
      _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_loadu_ps(x + i), va, vb));
    }
    for (; i < n; ++i) y[i] = std::fma(x[i], scale, shift);
  }
}

// With the ReLU's output y (or nullptr): ge = y > 0 ? g : 0 (as threshold_backward), stored to
// ge_out when given (the residual input's gradient); sum(ge) and sum(ge * (x - m)).
__attribute__((target("avx2,fma"))) void plane_grad_sums(const float* g, const float* x,
                                                         const float* y, float* ge_out,
                                                         std::int64_t n, float m, double& sum,
                                                         double& dot) {
  const __m256 vm = _mm256_set1_ps(m), zero = _mm256_setzero_ps();
  for (std::int64_t i = 0; i < n;) {
    const std::int64_t end = std::min(n, i + kChunk);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, d0 = s0, d1 = s0;
    for (; i + 16 <= end; i += 16) {
      __m256 ga = _mm256_loadu_ps(g + i), gb = _mm256_loadu_ps(g + i + 8);
      if (y != nullptr) {
        ga = _mm256_and_ps(ga, _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ));
        gb = _mm256_and_ps(gb, _mm256_cmp_ps(_mm256_loadu_ps(y + i + 8), zero, _CMP_GT_OQ));
      }
      if (ge_out != nullptr) {
        _mm256_storeu_ps(ge_out + i, ga);
        _mm256_storeu_ps(ge_out + i + 8, gb);
      }
      s0 = _mm256_add_ps(s0, ga);
      s1 = _mm256_add_ps(s1, gb);
      d0 = _mm256_fmadd_ps(ga, _mm256_sub_ps(_mm256_loadu_ps(x + i), vm), d0);
      d1 = _mm256_fmadd_ps(gb, _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), vm), d1);
    }
    double ts = 0, td = 0;
    for (; i < end; ++i) {
      const float ge = (y == nullptr || y[i] > 0.f) ? g[i] : 0.f;
      if (ge_out != nullptr) ge_out[i] = ge;
      ts += ge;
      td += static_cast<double>(ge) * (x[i] - m);
    }
    sum += hsum(_mm256_add_ps(s0, s1)) + ts;
    dot += hsum(_mm256_add_ps(d0, d1)) + td;
  }
}

// gx = ge * a + (x - m) * b + c
__attribute__((target("avx2,fma"))) void plane_grad_input(const float* g, const float* x,
                                                          const float* y, float* gx, std::int64_t n,
                                                          float m, float a, float b, float c) {
  const __m256 vm = _mm256_set1_ps(m), va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b),
               vc = _mm256_set1_ps(c), zero = _mm256_setzero_ps();
  std::int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 ge = _mm256_loadu_ps(g + i);
    if (y != nullptr) {
      ge = _mm256_and_ps(ge, _mm256_cmp_ps(_mm256_loadu_ps(y + i), zero, _CMP_GT_OQ));
    }
    const __m256 t = _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm), vb, vc);
    _mm256_storeu_ps(gx + i, _mm256_fmadd_ps(ge, va, t));
  }
  for (; i < n; ++i) {
    const float ge = (y == nullptr || y[i] > 0.f) ? g[i] : 0.f;
    gx[i] = std::fma(ge, a, std::fma(x[i] - m, b, c));
  }
}

bool cpu_ok() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

struct Shape {
  std::int64_t n, c, hw;
};

Shape shape_of(const torch::Tensor& x) {
  const auto hw = x.numel() / (x.size(0) * x.size(1));
  return {x.size(0), x.size(1), hw};
}

// The channels of x = cat(pieces, 1) without the concatenation: plane (n, c) of x starts at
// base[c] + n * stride[c] (each piece NCHW-contiguous with the same N, H, W).
struct ChannelPlanes {
  std::vector<std::int64_t> piece, offset;  // per channel: its piece and the offset in it
  std::vector<std::int64_t> stride;         // per channel: the piece's C * HW
};

ChannelPlanes channel_planes(at::TensorList pieces, std::int64_t hw) {
  ChannelPlanes cp;
  for (std::size_t p = 0; p < pieces.size(); ++p) {
    const auto c = pieces[p].size(1);
    for (std::int64_t i = 0; i < c; ++i) {
      cp.piece.push_back(static_cast<std::int64_t>(p));
      cp.offset.push_back(i * hw);
      cp.stride.push_back(c * hw);
    }
  }
  return cp;
}

class BatchNormReluFn : public torch::autograd::Function<BatchNormReluFn> {
 public:
  // x [N, C, H, W]; weight, bias, running_mean, running_var [C] (running statistics updated in
  // place); returns y.
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, at::TensorList xs,
                               const torch::Tensor& weight, const torch::Tensor& bias,
                               torch::Tensor running_mean, torch::Tensor running_var,
                               double momentum, double eps, bool relu,
                               const torch::Tensor& identity) {
    RECORD_FUNCTION("cxrsynth::fused_batch_norm", std::vector<c10::IValue>());
    // x = cat(xs, 1), read piece by piece
    const auto& x0 = xs[0];
    Shape s = shape_of(x0);
    s.c = 0;
    for (const auto& p : xs) s.c += p.size(1);
    const auto planes = channel_planes(xs, s.hw);
    std::vector<const float*> xptr;
    for (const auto& p : xs) xptr.push_back(p.data_ptr<float>());
    const auto xplane = [&](std::int64_t n, std::int64_t c) {
      return xptr[planes.piece[c]] + planes.offset[c] + n * planes.stride[c];
    };
    const std::int64_t count = s.n * s.hw;
    auto y = torch::empty({s.n, s.c, x0.size(2), x0.size(3)}, x0.options());
    auto mean = torch::empty({s.c}, x0.options());
    auto invstd = torch::empty({s.c}, x0.options());
    float* yp = y.data_ptr<float>();
    const auto w = weight.contiguous(), b = bias.contiguous();
    const float* wp = w.data_ptr<float>();
    const float* bp = b.data_ptr<float>();
    float* mp = mean.data_ptr<float>();
    float* ip = invstd.data_ptr<float>();
    float* rmp = running_mean.data_ptr<float>();
    float* rvp = running_var.data_ptr<float>();
    // y = relu(bn(x) + identity); without an add, identity is an empty tensor (apply() needs
    // defined tensors)
    const bool add = identity.numel() > 0;
    const float* idp = add ? identity.data_ptr<float>() : nullptr;
    at::parallel_for(0, s.c, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t c = begin; c < end; ++c) {
        // Pass 1: the sum; pass 2 (the channel's planes are still in cache for the usual
        // sizes): squares centred on the float mean, corrected to the exact mean.
        double sum = 0, unused = 0;
        for (std::int64_t n = 0; n < s.n; ++n) {
          plane_sums(xplane(n, c), s.hw, 0.f, sum, unused);
        }
        (void)unused;
        const double mu = sum / static_cast<double>(count);
        const float mf = static_cast<float>(mu);
        double sum_c = 0, sumsq = 0;
        for (std::int64_t n = 0; n < s.n; ++n) {
          plane_sums(xplane(n, c), s.hw, mf, sum_c, sumsq);
        }
        // sum((x - mu)^2) = sum((x - mf)^2) - count * (mu - mf)^2
        const double dm = mu - static_cast<double>(mf);
        const double var_sum = std::max(0.0, sumsq - static_cast<double>(count) * dm * dm);
        const double inv = 1.0 / std::sqrt(var_sum / static_cast<double>(count) + eps);
        mp[c] = mf;
        ip[c] = static_cast<float>(inv);
        rmp[c] = static_cast<float>(momentum * mu + (1 - momentum) * rmp[c]);
        rvp[c] = static_cast<float>(momentum * var_sum / static_cast<double>(count - 1) +
                                    (1 - momentum) * rvp[c]);
        const double scale = static_cast<double>(wp[c]) * inv;
        const auto shift = static_cast<float>(static_cast<double>(bp[c]) - mu * scale);
        for (std::int64_t n = 0; n < s.n; ++n) {
          const auto off = (n * s.c + c) * s.hw;
          if (add) {
            plane_apply_add_relu(xplane(n, c), idp + off, yp + off, s.hw, static_cast<float>(scale),
                                 shift);
          } else {
            plane_apply(xplane(n, c), yp + off, s.hw, static_cast<float>(scale), shift, relu);
          }
        }
      }
    });
    ctx->saved_data["mean"] = mean;
    ctx->saved_data["invstd"] = invstd;
    ctx->saved_data["relu"] = relu;
    ctx->saved_data["add"] = add;
    ctx->saved_data["pieces"] = static_cast<std::int64_t>(xs.size());
    torch::autograd::variable_list to_save(xs.begin(), xs.end());
    to_save.push_back(weight);
    if (relu) to_save.push_back(y);
    ctx->save_for_backward(to_save);
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    RECORD_FUNCTION("cxrsynth::fused_batch_norm_backward", std::vector<c10::IValue>());
    const auto saved = ctx->get_saved_variables();
    const auto k = static_cast<std::size_t>(ctx->saved_data["pieces"].toInt());
    const at::TensorList xs(saved.data(), k);
    const auto& x0 = xs[0];
    const auto w = saved[k].contiguous();
    const bool relu = ctx->saved_data["relu"].toBool();
    const bool add = ctx->saved_data["add"].toBool();
    const auto mean = ctx->saved_data["mean"].toTensor();
    const auto invstd = ctx->saved_data["invstd"].toTensor();
    const auto g = grads[0].contiguous();
    Shape s = shape_of(x0);
    s.c = 0;
    for (const auto& p : xs) s.c += p.size(1);
    const auto planes = channel_planes(xs, s.hw);
    // one input gradient per piece, in the pieces' layout
    torch::autograd::variable_list gxs;
    std::vector<const float*> xptr;
    std::vector<float*> gxptr;
    for (const auto& p : xs) {
      gxs.push_back(torch::empty_like(p, torch::MemoryFormat::Contiguous));
      xptr.push_back(p.data_ptr<float>());
      gxptr.push_back(gxs.back().data_ptr<float>());
    }
    const auto xplane = [&](std::int64_t n, std::int64_t c) {
      return xptr[planes.piece[c]] + planes.offset[c] + n * planes.stride[c];
    };
    const auto gxplane = [&](std::int64_t n, std::int64_t c) {
      return gxptr[planes.piece[c]] + planes.offset[c] + n * planes.stride[c];
    };
    const std::int64_t count = s.n * s.hw;
    auto gw = torch::empty({s.c}, w.options());
    auto gb = torch::empty({s.c}, w.options());
    const float* gp = g.data_ptr<float>();
    const float* yp = relu ? saved[k + 1].data_ptr<float>() : nullptr;
    const float* wp = w.data_ptr<float>();
    const float* mp = mean.data_ptr<float>();
    const float* ip = invstd.data_ptr<float>();
    float* gwp = gw.data_ptr<float>();
    float* gbp = gb.data_ptr<float>();
    // with the residual add: the masked gradient is the identity's gradient, and the second
    // pass reads it instead of g and y
    torch::Tensor gid =
        add ? torch::empty_like(g, torch::MemoryFormat::Contiguous) : torch::Tensor();
    float* gidp = add ? gid.data_ptr<float>() : nullptr;
    at::parallel_for(0, s.c, 1, [&](std::int64_t begin, std::int64_t end) {
      for (std::int64_t c = begin; c < end; ++c) {
        double sum = 0, dot = 0;
        for (std::int64_t n = 0; n < s.n; ++n) {
          const auto off = (n * s.c + c) * s.hw;
          plane_grad_sums(gp + off, xplane(n, c), yp ? yp + off : nullptr,
                          add ? gidp + off : nullptr, s.hw, mp[c], sum, dot);
        }
        const double inv = ip[c];
        gwp[c] = static_cast<float>(dot * inv);
        gbp[c] = static_cast<float>(sum);
        // gx = (ge - sum / count - (x - mean) * inv^2 * dot / count) * inv * w
        const double k = inv * static_cast<double>(wp[c]);
        const double proj = dot * inv * inv / static_cast<double>(count);
        const auto a = static_cast<float>(k);
        const auto bcoef = static_cast<float>(-proj * k);
        const auto ccoef = static_cast<float>(-sum / static_cast<double>(count) * k);
        for (std::int64_t n = 0; n < s.n; ++n) {
          const auto off = (n * s.c + c) * s.hw;
          if (add) {
            plane_grad_input(gidp + off, xplane(n, c), nullptr, gxplane(n, c), s.hw, mp[c], a,
                             bcoef, ccoef);
          } else {
            plane_grad_input(gp + off, xplane(n, c), yp ? yp + off : nullptr, gxplane(n, c), s.hw,
                             mp[c], a, bcoef, ccoef);
          }
        }
      }
    });
    gxs.push_back(gw);
    gxs.push_back(gb);
    for (int i = 0; i < 5; ++i) gxs.emplace_back();  // running stats, momentum, eps, relu
    gxs.push_back(gid);                              // identity (undefined without an add)
    return gxs;
  }
};

#endif  // CXRSYNTH_BN_AVX2

}  // namespace

void set_fused_batch_norm_enabled(bool enabled) {
  g_enabled.store(enabled);
}

bool fused_batch_norm_applies(const torch::Tensor& x) {
#ifdef CXRSYNTH_BN_AVX2
  return g_enabled.load() && cpu_ok() && x.defined() && x.device().is_cpu() &&
         x.scalar_type() == torch::kFloat32 && x.dim() == 4 && x.is_contiguous() &&
         x.size(0) * x.size(2) * x.size(3) > 1 && x.size(1) > 0;
#else
  (void)x;
  return false;
#endif
}

namespace {

// Whether the fused kernels run bn on x (whose channel count is `channels`, e.g. of a
// concatenation of which x is the first piece).
bool fused_for(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, std::int64_t channels) {
#ifdef CXRSYNTH_BN_AVX2
  const auto& o = bn.options;
  return bn.is_training() && o.affine() && o.track_running_stats() &&
         bn.num_batches_tracked.defined() && fused_batch_norm_applies(x) &&
         bn.weight.scalar_type() == torch::kFloat32 && bn.running_mean.is_contiguous() &&
         bn.running_var.is_contiguous() && channels == bn.weight.numel();
#else
  (void)bn;
  (void)x;
  (void)channels;
  return false;
#endif
}

// As BatchNormImplBase::forward: count the batch, then the momentum or, without one, the
// cumulative moving average.
double count_batch(torch::nn::BatchNorm2dImpl& bn) {
  {
    torch::NoGradGuard no_grad;
    bn.num_batches_tracked += 1;
  }
  return bn.options.momentum() ? *bn.options.momentum()
                               : 1.0 / bn.num_batches_tracked.item<double>();
}

}  // namespace

torch::Tensor batch_norm(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x, bool relu) {
#ifdef CXRSYNTH_BN_AVX2
  if (fused_for(bn, x, x.dim() == 4 ? x.size(1) : -1)) {
    const double factor = count_batch(bn);
    return BatchNormReluFn::apply(at::TensorList(x), bn.weight, bn.bias, bn.running_mean,
                                  bn.running_var, factor, bn.options.eps(), relu,
                                  torch::empty({0}, x.options()));
  }
#endif
  auto y = bn.forward(x);
  return relu ? y.relu_() : y;
}

torch::Tensor batch_norm_cat(torch::nn::BatchNorm2dImpl& bn,
                             const std::vector<torch::Tensor>& pieces, bool relu) {
#ifdef CXRSYNTH_BN_AVX2
  if (!pieces.empty() && bn.is_training()) {
    bool ok = true;
    std::int64_t c = 0;
    const auto& p0 = pieces[0];
    for (const auto& p : pieces) {
      ok = ok && fused_batch_norm_applies(p) && p.size(0) == p0.size(0) &&
           p.size(2) == p0.size(2) && p.size(3) == p0.size(3);
      if (ok) c += p.size(1);
    }
    if (ok && fused_for(bn, p0, c)) {
      const double factor = count_batch(bn);
      return BatchNormReluFn::apply(at::TensorList(pieces), bn.weight, bn.bias, bn.running_mean,
                                    bn.running_var, factor, bn.options.eps(), relu,
                                    torch::empty({0}, p0.options()));
    }
  }
#endif
  return batch_norm(bn, torch::cat(pieces, 1), relu);
}

torch::Tensor batch_norm_add_relu(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x,
                                  const torch::Tensor& identity) {
#ifdef CXRSYNTH_BN_AVX2
  if (fused_for(bn, x, x.dim() == 4 ? x.size(1) : -1) && x.numel() > 0 &&
      identity.sizes() == x.sizes() && identity.is_contiguous() &&
      identity.scalar_type() == torch::kFloat32 && identity.device().is_cpu()) {
    const double factor = count_batch(bn);
    return BatchNormReluFn::apply(at::TensorList(x), bn.weight, bn.bias, bn.running_mean,
                                  bn.running_var, factor, bn.options.eps(), true, identity);
  }
#endif
  auto y = bn.forward(x);
  y.add_(identity);
  return y.relu_();
}

}  // namespace cxrsynth::models::detail
