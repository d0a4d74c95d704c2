#include "train/cyclegan_step.h"

#include <torch/torch.h>

#include <utility>

namespace cxrsynth::train {

namespace {

void set_requires_grad(torch::nn::Module& m, bool on) {
  for (auto& p : m.parameters()) p.set_requires_grad(on);
}

// Interpolation weights of the gradient penalty, one per image, from the step's generator.
at::Tensor draw_alpha(std::int64_t n, Rng& rng) {
  std::vector<float> a(static_cast<std::size_t>(n));
  for (auto& x : a) x = static_cast<float>(rng.uniform());
  return torch::tensor(a);
}

}  // namespace

CycleGanStepLosses cyclegan_step(CycleGanNets& nets, torch::optim::Adam& opt_g,
                                 torch::optim::Adam& opt_d, ImagePool& pool_a, ImagePool& pool_b,
                                 const at::Tensor& real_a, const at::Tensor& real_b, Rng& rng,
                                 const GanOptions& o, const StepHooks& hooks) {
  auto checked = [&](const char* name, const at::Tensor& t) {
    if (hooks.check) hooks.check(name, t);
  };
  auto sync = [&](torch::optim::Adam& opt) {
    if (hooks.sync_gradients) hooks.sync_gradients(opt.param_groups().at(0).params());
  };
  CycleGanStepLosses out;

  // Generators (discriminators frozen, as in the reference code).
  set_requires_grad(*nets.d_a, false);
  set_requires_grad(*nets.d_b, false);
  opt_g.zero_grad();
  GeneratorPass& pass = out;
  pass = generator_pass(nets, real_a, real_b, o);
  const std::pair<const char*, const at::Tensor*> terms[] = {
      {"g_adv_a", &pass.g_adv_a}, {"g_adv_b", &pass.g_adv_b}, {"cycle_a", &pass.cycle_a},
      {"cycle_b", &pass.cycle_b}, {"idt_a", &pass.idt_a},     {"idt_b", &pass.idt_b},
      {"g_total", &pass.g_total}};
  for (const auto& [name, term] : terms) checked(name, *term);
  pass.g_total.backward();
  sync(opt_g);
  opt_g.step();

  // Discriminators, on pooled fakes; loss halved (both codes).
  set_requires_grad(*nets.d_a, true);
  set_requires_grad(*nets.d_b, true);
  opt_d.zero_grad();
  const auto fake_b = pool_b.query(pass.fake_b.detach(), rng);
  const auto fake_a = pool_a.query(pass.fake_a.detach(), rng);
  out.d_b = discriminator_loss(nets.d_b, real_b, fake_b, o.adv_loss);
  out.d_a = discriminator_loss(nets.d_a, real_a, fake_a, o.adv_loss);
  if (o.adv_loss == "wgan-gp" && o.lambda_gp > 0) {
    // Interpolation weights: D_B's batch first, then D_A's (after the pool draws).
    const auto alpha_b = draw_alpha(real_b.size(0), rng);
    const auto alpha_a = draw_alpha(real_a.size(0), rng);
    out.gp_b = gradient_penalty(nets.d_b, real_b, fake_b, alpha_b, o.lambda_gp);
    out.gp_a = gradient_penalty(nets.d_a, real_a, fake_a, alpha_a, o.lambda_gp);
    // Halved with the rest of the discriminator loss, so the penalty keeps its weight
    // lambda_gp relative to the critic terms (WGAN-GP paper, eq. 3).
    out.d_b = out.d_b + out.gp_b * 0.5;
    out.d_a = out.d_a + out.gp_a * 0.5;
  }
  checked("d_a", out.d_a);
  checked("d_b", out.d_b);
  (out.d_a + out.d_b).backward();
  sync(opt_d);
  opt_d.step();
  return out;
}

}  // namespace cxrsynth::train
