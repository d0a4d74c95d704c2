#include "models/classifiers/max_pool.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CXRSYNTH_POOL_AVX2 1
#endif

namespace cxrsynth::models::detail {

namespace {

std::atomic<bool> g_enabled{true};

#ifdef CXRSYNTH_POOL_AVX2

// One output as ATen's cpu_max_pool computes it (3x3, stride 2, padding 1).
void pool_one(const float* in, std::int64_t h, std::int64_t w, std::int64_t oh, std::int64_t ow,
              float& out, std::int64_t& index) {
  std::int64_t ih0 = oh * 2 - 1, iw0 = ow * 2 - 1;
  const std::int64_t ih1 = std::min(ih0 + 3, h), iw1 = std::min(iw0 + 3, w);
  while (ih0 < 0) ++ih0;
  while (iw0 < 0) ++iw0;
  std::int64_t maxindex = ih0 * w + iw0;
  float maxval = -std::numeric_limits<float>::infinity();
  for (std::int64_t ih = ih0; ih < ih1; ++ih) {
    for (std::int64_t iw = iw0; iw < iw1; ++iw) {
      const std::int64_t i = ih * w + iw;
      const float v = in[i];
      if ((v > maxval) || std::isnan(v)) {
        maxval = v;
        maxindex = i;
      }
    }
  }
  out = maxval;
  index = maxindex;
}

struct Window {
  __m256 max;
  __m256i index;
};

__attribute__((target("avx2,fma"), always_inline)) inline void candidate(Window& win,
                                                                         const float* p,
                                                                         __m256i index) {
  const __m256 v = _mm256_loadu_ps(p);
  const __m256 take =
      _mm256_or_ps(_mm256_cmp_ps(v, win.max, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  win.max = _mm256_blendv_ps(win.max, v, take);
  win.index = _mm256_blendv_epi8(win.index, index, _mm256_castps_si256(take));
}

// One plane [h, w] -> [oh, ow]; even / odd: scratch of h * ceil(w / 2) floats each.
__attribute__((target("avx2,fma"))) void pool_plane(const float* in, float* out, std::int64_t* ind,
                                                    std::int64_t h, std::int64_t w,
                                                    std::int64_t out_h, std::int64_t out_w,
                                                    float* even, float* odd) {
  const std::int64_t half = (w + 1) / 2;
  for (std::int64_t ih = 0; ih < h; ++ih) {
    const float* row = in + ih * w;
    float* e = even + ih * half;
    float* o = odd + ih * half;
    for (std::int64_t j = 0; j < w / 2; ++j) {
      e[j] = row[2 * j];
      o[j] = row[2 * j + 1];
    }
    if (w % 2 == 1) e[w / 2] = row[w - 1];
  }
  // Outputs whose window lies inside the row (columns 2 ow - 1 ... 2 ow + 1): vectorised.
  const std::int64_t v_end = std::min(out_w, (w - 2) / 2 + 1);
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  for (std::int64_t oh = 0; oh < out_h; ++oh) {
    float* orow = out + oh * out_w;
    std::int64_t* irow = ind + oh * out_w;
    std::int64_t ih0 = oh * 2 - 1;
    const std::int64_t ih1 = std::min(ih0 + 3, h);
    if (ih0 < 0) ih0 = 0;
    std::int64_t ow = 0;
    for (; ow < 1 && ow < out_w; ++ow) pool_one(in, h, w, oh, ow, orow[ow], irow[ow]);
    for (; ow + 8 <= v_end; ow += 8) {
      Window win{
          _mm256_set1_ps(-std::numeric_limits<float>::infinity()),
          _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(ih0 * w + 2 * ow - 1)), lane2)};
      for (std::int64_t ih = ih0; ih < ih1; ++ih) {
        const float* e = even + ih * half;
        const float* o = odd + ih * half;
        const __m256i base =
            _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(ih * w + 2 * ow)), lane2);
        candidate(win, o + ow - 1, _mm256_sub_epi32(base, _mm256_set1_epi32(1)));
        candidate(win, e + ow, base);
        candidate(win, o + ow, _mm256_add_epi32(base, _mm256_set1_epi32(1)));
      }
      _mm256_storeu_ps(orow + ow, win.max);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(irow + ow),
                          _mm256_cvtepi32_epi64(_mm256_castsi256_si128(win.index)));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(irow + ow + 4),
                          _mm256_cvtepi32_epi64(_mm256_extracti128_si256(win.index, 1)));
    }
    for (; ow < out_w; ++ow) pool_one(in, h, w, oh, ow, orow[ow], irow[ow]);
  }
}

bool cpu_ok() {
  static const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return ok;
}

class MaxPoolFn : public torch::autograd::Function<MaxPoolFn> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    auto [out, ind] = max_pool_3x3s2p1_with_indices(x);
    ctx->save_for_backward({x});
    ctx->saved_data["indices"] = ind;
    return out;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto x = ctx->get_saved_variables()[0];
    return {at::max_pool2d_with_indices_backward(grads[0], x, {3, 3}, {2, 2}, {1, 1}, {1, 1}, false,
                                                 ctx->saved_data["indices"].toTensor())};
  }
};

#endif  // CXRSYNTH_POOL_AVX2

}  // namespace

void set_fused_max_pool_enabled(bool enabled) {
  g_enabled.store(enabled);
}

bool fused_max_pool_applies(const at::Tensor& x) {
#ifdef CXRSYNTH_POOL_AVX2
  return g_enabled.load() && cpu_ok() && x.defined() && x.device().is_cpu() &&
         x.scalar_type() == at::kFloat && x.dim() == 4 && x.is_contiguous() && x.size(2) >= 2 &&
         x.size(3) >= 2 && x.size(2) * x.size(3) < (std::int64_t{1} << 30);
#else
  (void)x;
  return false;
#endif
}

std::tuple<at::Tensor, at::Tensor> max_pool_3x3s2p1_with_indices(const at::Tensor& x) {
#ifdef CXRSYNTH_POOL_AVX2
  if (fused_max_pool_applies(x)) {
    RECORD_FUNCTION("cxrsynth::max_pool_3x3s2", std::vector<c10::IValue>());
    const std::int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
    const std::int64_t oh = (h + 2 - 3) / 2 + 1, ow = (w + 2 - 3) / 2 + 1;
    auto out = torch::empty({n, c, oh, ow}, x.options());
    auto ind = torch::empty({n, c, oh, ow}, x.options().dtype(torch::kLong));
    const float* xp = x.data_ptr<float>();
    float* op = out.data_ptr<float>();
    std::int64_t* ip = ind.data_ptr<std::int64_t>();
    at::parallel_for(0, n * c, 1, [&](std::int64_t begin, std::int64_t end) {
      const std::int64_t half = (w + 1) / 2;
      std::vector<float> scratch(static_cast<std::size_t>(2 * h * half));
      for (std::int64_t p = begin; p < end; ++p) {
        pool_plane(xp + p * h * w, op + p * oh * ow, ip + p * oh * ow, h, w, oh, ow, scratch.data(),
                   scratch.data() + h * half);
      }
    });
    return {out, ind};
  }
#endif
  return at::max_pool2d_with_indices(x, {3, 3}, {2, 2}, {1, 1});
}

at::Tensor max_pool2d(const at::Tensor& x, std::int64_t kernel_size, std::int64_t stride,
                      std::int64_t padding) {
#ifdef CXRSYNTH_POOL_AVX2
  if (kernel_size == 3 && stride == 2 && padding == 1 && fused_max_pool_applies(x)) {
    return MaxPoolFn::apply(x);
  }
#endif
  return torch::max_pool2d(x, kernel_size, stride, padding);
}

}  // namespace cxrsynth::models::detail
