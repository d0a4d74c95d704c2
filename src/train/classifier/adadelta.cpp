#include "train/classifier/adadelta.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CXRSYNTH_ADADELTA_AVX2 1
#endif

namespace cxrsynth::train {

namespace {

#ifdef CXRSYNTH_ADADELTA_AVX2
// One pass over p, g, square_avg, acc_delta (7 floats of memory traffic per element instead of
// about 27 for the eleven ATen operations of adadelta_update_aten). Bit-identical to them as
// ATen runs them on AVX2/AVX-512 CPUs (its CPU kernels are compiled with FMA contraction):
//   mul_(rho)                      -> sq * rho
//   addcmul_(g, g, 1 - rho)        -> fma((1 - rho) * g, g, sq * rho)
//   add(eps) / sqrt_ / div_ / mul_ -> sqrt(acc + eps) / sqrt(sq + eps) * g  (exact IEEE ops)
//   add_(delta, -lr)               -> fma(delta, -lr, p)
// Scalars are rounded to float first, as ATen does for float tensors. Elements are
// independent, so the result does not depend on how parallel_for splits the range.
__attribute__((target("avx2,fma"))) void fused_range(float* p, const float* g, float* sq,
                                                     float* acc, std::int64_t begin,
                                                     std::int64_t end, float rho, float one_m_rho,
                                                     float eps, float neg_lr) {
  const __m256 vrho = _mm256_set1_ps(rho), vc = _mm256_set1_ps(one_m_rho),
               veps = _mm256_set1_ps(eps), vlr = _mm256_set1_ps(neg_lr);
  std::int64_t i = begin;
  for (; i + 8 <= end; i += 8) {
    const __m256 vg = _mm256_loadu_ps(g + i);
    const __m256 vs =
        _mm256_fmadd_ps(_mm256_mul_ps(vc, vg), vg, _mm256_mul_ps(_mm256_loadu_ps(sq + i), vrho));
    _mm256_storeu_ps(sq + i, vs);
    const __m256 va = _mm256_loadu_ps(acc + i);
    const __m256 vd = _mm256_mul_ps(_mm256_div_ps(_mm256_sqrt_ps(_mm256_add_ps(va, veps)),
                                                  _mm256_sqrt_ps(_mm256_add_ps(vs, veps))),
                                    vg);
    _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(_mm256_mul_ps(vc, vd), vd, _mm256_mul_ps(va, vrho)));
    _mm256_storeu_ps(p + i, _mm256_fmadd_ps(vd, vlr, _mm256_loadu_ps(p + i)));
  }
  for (; i < end; ++i) {
    const float s = std::fma(one_m_rho * g[i], g[i], sq[i] * rho);
    sq[i] = s;
    const float d = std::sqrt(acc[i] + eps) / std::sqrt(s + eps) * g[i];
    acc[i] = std::fma(one_m_rho * d, d, acc[i] * rho);
    p[i] = std::fma(d, neg_lr, p[i]);
  }
}

bool fused_range_ok(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& sq, torch::Tensor& acc,
                    double lr, double rho, double eps);

// The fused loop is used only where it reproduces ATen's operations bit for bit: checked once
// per process on a few thousand values of varied magnitude and sign (ATen's kernels depend on
// the CPU capability it picks, e.g. ATEN_CPU_CAPABILITY=default runs them without FMA).
bool fused_available() {
  static const bool ok = [] {
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
    torch::NoGradGuard no_grad;
    const auto n = 4099;  // not a multiple of 8: the scalar tail too
    const auto i = torch::arange(n, torch::kFloat64);
    const auto p = (torch::sin(i * 0.37) * 3).to(torch::kFloat32);
    auto g =
        (torch::cos(i * 1.3) * torch::pow(10.0, torch::remainder(i, 9) - 6)).to(torch::kFloat32);
    g.index_put_({torch::arange(0, n, 97)}, 0.0);
    const auto sq = (torch::sin(i * 0.11).abs() * 1e-4).to(torch::kFloat32);
    const auto acc = (torch::cos(i * 0.7).abs() * 1e-6).to(torch::kFloat32);
    auto p1 = p.clone(), sq1 = sq.clone(), acc1 = acc.clone();
    auto p2 = p.clone(), sq2 = sq.clone(), acc2 = acc.clone();
    for (int step = 0; step < 3; ++step) {
      adadelta_update_aten(p1, g, sq1, acc1, 1.0, 0.95, 1e-7);
      fused_range_ok(p2, g, sq2, acc2, 1.0, 0.95, 1e-7);
    }
    const auto bits = [](const torch::Tensor& t) { return t.view(torch::kInt32); };
    return torch::equal(bits(p1), bits(p2)) && torch::equal(bits(sq1), bits(sq2)) &&
           torch::equal(bits(acc1), bits(acc2));
  }();
  return ok;
}

bool fused_range_ok(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& sq, torch::Tensor& acc,
                    double lr, double rho, double eps) {
  for (const torch::Tensor* t : std::initializer_list<const torch::Tensor*>{&p, &g, &sq, &acc}) {
    // Any dense layout (contiguous, channels_last) shared by all four tensors: element k of
    // each is then at the same offset from its data pointer.
    if (!t->device().is_cpu() || t->scalar_type() != torch::kFloat32 ||
        !t->is_non_overlapping_and_dense() || t->sizes() != p.sizes() ||
        t->strides() != p.strides())
      return false;
  }
  float* pp = p.data_ptr<float>();
  const float* gp = g.data_ptr<float>();
  float* sp = sq.data_ptr<float>();
  float* ap = acc.data_ptr<float>();
  const float frho = static_cast<float>(rho), fc = static_cast<float>(1 - rho),
              feps = static_cast<float>(eps), flr = static_cast<float>(-lr);
  at::parallel_for(0, p.numel(), at::internal::GRAIN_SIZE, [&](std::int64_t b, std::int64_t e) {
    fused_range(pp, gp, sp, ap, b, e, frho, fc, feps, flr);
  });
  for (const torch::Tensor* t : std::initializer_list<const torch::Tensor*>{&p, &sq, &acc})
    torch::autograd::impl::bump_version(*t);
  return true;
}
#endif

}  // namespace

void adadelta_update_aten(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& sq,
                          torch::Tensor& acc, double lr, double rho, double eps) {
  torch::NoGradGuard no_grad;
  sq.mul_(rho).addcmul_(g, g, 1 - rho);
  const auto delta = acc.add(eps).sqrt_().div_(sq.add(eps).sqrt_()).mul_(g);
  acc.mul_(rho).addcmul_(delta, delta, 1 - rho);
  p.add_(delta, -lr);
}

bool adadelta_update_fused(torch::Tensor& p, const torch::Tensor& g, torch::Tensor& sq,
                           torch::Tensor& acc, double lr, double rho, double eps) {
#ifdef CXRSYNTH_ADADELTA_AVX2
  return fused_available() && fused_range_ok(p, g, sq, acc, lr, rho, eps);
#else
  (void)p, (void)g, (void)sq, (void)acc, (void)lr, (void)rho, (void)eps;
  return false;
#endif
}

Adadelta::Adadelta(std::vector<torch::Tensor> params, double lr, double rho, double eps)
    : params_(std::move(params)), lr_(lr), rho_(rho), eps_(eps) {
  for (const auto& p : params_) {
    square_avg_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
    acc_delta_.push_back(torch::zeros_like(p, torch::MemoryFormat::Preserve));
  }
}

void Adadelta::zero_grad() {
  // Set to none (PyTorch's zero_grad(set_to_none=True)): backward then stores each new
  // gradient as it is instead of zeroing the old one and adding the new one to it. Same
  // values (0 + g == g); a parameter whose gradient stays undefined is skipped by step().
  for (auto& p : params_) p.mutable_grad().reset();
}

void Adadelta::step() {
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < params_.size(); ++i) {
    auto& p = params_[i];
    if (!p.grad().defined()) continue;
    if (!adadelta_update_fused(p, p.grad(), square_avg_[i], acc_delta_[i], lr_, rho_, eps_))
      adadelta_update_aten(p, p.grad(), square_avg_[i], acc_delta_[i], lr_, rho_, eps_);
  }
}

}  // namespace cxrsynth::train
