#include "train/gan_losses.h"

#include <torch/torch.h>

#include "core/error.h"

namespace cxrsynth::train {

namespace F = torch::nn::functional;

at::Tensor adversarial_loss(const at::Tensor& prediction, bool target_real,
                            const std::string& kind) {
  if (kind == "lsgan" || kind == "vanilla") {
    const auto target = target_real ? torch::ones_like(prediction) : torch::zeros_like(prediction);
    if (kind == "lsgan") return F::mse_loss(prediction, target);
    return F::binary_cross_entropy_with_logits(prediction, target);
  }
  // Reference CycleGAN GANLoss('wgangp'): the critic's mean score, negated for "real".
  if (kind == "wgan-gp") return target_real ? -prediction.mean() : prediction.mean();
  throw UsageError(fmt::format("gan.adv_loss: '{}' is not one of lsgan, vanilla, wgan-gp", kind));
}

CycleGanNets make_nets(const GanOptions& o) {
  CycleGanNets n;
  n.g_a = models::Generator(o.generator);
  n.g_b = models::Generator(o.generator);
  n.d_a = models::Discriminator(o.discriminator, o.generator.channels);
  n.d_b = models::Discriminator(o.discriminator, o.generator.channels);
  models::init_weights(*n.g_a, o.init);
  models::init_weights(*n.g_b, o.init);
  models::init_weights(*n.d_a, o.init);
  models::init_weights(*n.d_b, o.init);
  return n;
}

GeneratorPass generator_pass(CycleGanNets& nets, const at::Tensor& real_a, const at::Tensor& real_b,
                             const GanOptions& o) {
  GeneratorPass p;
  p.fake_b = nets.g_a->forward(real_a);
  p.rec_a = nets.g_b->forward(p.fake_b);
  p.fake_a = nets.g_b->forward(real_b);
  p.rec_b = nets.g_a->forward(p.fake_a);
  if (o.lambda_identity > 0) {
    p.idt_a = F::l1_loss(nets.g_a->forward(real_b), real_b) * o.lambda_identity;
    p.idt_b = F::l1_loss(nets.g_b->forward(real_a), real_a) * o.lambda_identity;
  } else {
    p.idt_a = torch::zeros({}, real_a.options());
    p.idt_b = torch::zeros({}, real_a.options());
  }
  p.g_adv_a = adversarial_loss(nets.d_b->forward(p.fake_b), true, o.adv_loss);
  p.g_adv_b = adversarial_loss(nets.d_a->forward(p.fake_a), true, o.adv_loss);
  p.cycle_a = F::l1_loss(p.rec_a, real_a) * o.lambda_cycle;
  p.cycle_b = F::l1_loss(p.rec_b, real_b) * o.lambda_cycle;
  p.g_total = p.g_adv_a + p.g_adv_b + p.cycle_a + p.cycle_b + p.idt_a + p.idt_b;
  return p;
}

at::Tensor discriminator_loss(models::Discriminator& d, const at::Tensor& real,
                              const at::Tensor& fake, const std::string& kind) {
  const auto loss_real = adversarial_loss(d->forward(real), true, kind);
  const auto loss_fake = adversarial_loss(d->forward(fake.detach()), false, kind);
  return (loss_real + loss_fake) * 0.5;
}

at::Tensor gradient_penalty(models::Discriminator& d, const at::Tensor& real,
                            const at::Tensor& fake, const at::Tensor& alpha, double lambda_gp) {
  // Reference CycleGAN cal_gradient_penalty(type='mixed', constant=1): per-image interpolation,
  // gradient of D's summed output w.r.t. the interpolate, kept in the graph (create_graph) so
  // that the penalty's own gradient reaches D's weights (double backward).
  const auto n = real.size(0);
  const auto w = alpha.to(real.options()).view({n, 1, 1, 1});
  auto mixed = (w * real + (1 - w) * fake.detach()).detach().requires_grad_(true);
  const auto out = d->forward(mixed);
  const auto grads = torch::autograd::grad({out}, {mixed}, {torch::ones_like(out)},
                                           /*retain_graph=*/true, /*create_graph=*/true)[0];
  const auto norms = (grads.reshape({n, -1}) + 1e-16).norm(2, 1);
  return (norms - 1).pow(2).mean() * lambda_gp;
}

}  // namespace cxrsynth::train
