#include "train/cyclegan_step.h"

#include <torch/torch.h>

#include <functional>
#include <utility>

#include "core/pair_runner.h"

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
                                 const GanOptions& o, const StepHooks& hooks, PairRunner* pair) {
  auto checked = [&](const char* name, const at::Tensor& t) {
    if (hooks.check) hooks.check(name, t);
  };
  auto sync = [&](torch::optim::Adam& opt) {
    if (hooks.sync_gradients) hooks.sync_gradients(opt.param_groups().at(0).params());
  };
  auto both = [&](const std::function<void()>& first, const std::function<void()>& second) {
    if (pair) {
      pair->run(first, second);
    } else {
      first();
      second();
    }
  };
  CycleGanStepLosses out;

  // Generators (discriminators frozen, as in the reference code): the two directions side by
  // side, each its own backward pass (their losses add up to g_total).
  set_requires_grad(*nets.d_a, false);
  set_requires_grad(*nets.d_b, false);
  opt_g.zero_grad();
  GeneratorDirection dir_a, dir_b;
  both([&] { dir_a = generator_direction_a(nets, real_a, o); },
       [&] { dir_b = generator_direction_b(nets, real_b, o); });
  GeneratorPass& pass = out;
  pass = combine_directions(dir_a, dir_b);
  const std::pair<const char*, const at::Tensor*> terms[] = {
      {"g_adv_a", &pass.g_adv_a}, {"g_adv_b", &pass.g_adv_b}, {"cycle_a", &pass.cycle_a},
      {"cycle_b", &pass.cycle_b}, {"idt_a", &pass.idt_a},     {"idt_b", &pass.idt_b},
      {"g_total", &pass.g_total}};
  for (const auto& [name, term] : terms) checked(name, *term);
  both([&] { dir_a.loss().backward(); }, [&] { dir_b.loss().backward(); });
  sync(opt_g);
  opt_g.step();

  // Discriminators, on pooled fakes; loss halved (both codes). The pools and the penalty's
  // interpolation weights draw from `rng` here, in a fixed order; D_B and D_A then run side
  // by side.
  set_requires_grad(*nets.d_a, true);
  set_requires_grad(*nets.d_b, true);
  opt_d.zero_grad();
  const auto fake_b = pool_b.query(pass.fake_b.detach(), rng);
  const auto fake_a = pool_a.query(pass.fake_a.detach(), rng);
  const bool gp = o.adv_loss == "wgan-gp" && o.lambda_gp > 0;
  at::Tensor alpha_b, alpha_a;
  if (gp) {
    // Interpolation weights: D_B's batch first, then D_A's (after the pool draws).
    alpha_b = draw_alpha(real_b.size(0), rng);
    alpha_a = draw_alpha(real_a.size(0), rng);
  }
  // With wgan-gp the penalty is halved with the rest of the discriminator loss, so it keeps
  // its weight lambda_gp relative to the critic terms (WGAN-GP paper, eq. 3).
  both(
      [&] {
        out.d_b = discriminator_loss(nets.d_b, real_b, fake_b, o.adv_loss);
        if (gp) {
          out.gp_b = gradient_penalty(nets.d_b, real_b, fake_b, alpha_b, o.lambda_gp);
          out.d_b = out.d_b + out.gp_b * 0.5;
        }
      },
      [&] {
        out.d_a = discriminator_loss(nets.d_a, real_a, fake_a, o.adv_loss);
        if (gp) {
          out.gp_a = gradient_penalty(nets.d_a, real_a, fake_a, alpha_a, o.lambda_gp);
          out.d_a = out.d_a + out.gp_a * 0.5;
        }
      });
  checked("d_a", out.d_a);
  checked("d_b", out.d_b);
  both([&] { out.d_b.backward(); }, [&] { out.d_a.backward(); });
  sync(opt_d);
  opt_d.step();
  return out;
}

}  // namespace cxrsynth::train
