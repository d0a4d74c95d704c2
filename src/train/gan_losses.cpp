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

namespace {

GeneratorDirection direction(models::Generator& g, models::Generator& g_back,
                             models::Discriminator& d, const at::Tensor& real,
                             const GanOptions& o) {
  GeneratorDirection r;
  r.fake = g->forward(real);
  r.rec = g_back->forward(r.fake);
  r.idt = o.lambda_identity > 0 ? F::l1_loss(g_back->forward(real), real) * o.lambda_identity
                                : torch::zeros({}, real.options());
  r.adv = adversarial_loss(d->forward(r.fake), true, o.adv_loss);
  r.cycle = F::l1_loss(r.rec, real) * o.lambda_cycle;
  return r;
}

}  // namespace

at::Tensor GeneratorDirection::loss() const {
  return adv + cycle + idt;
}

GeneratorDirection generator_direction_a(CycleGanNets& nets, const at::Tensor& real_a,
                                         const GanOptions& o) {
  return direction(nets.g_a, nets.g_b, nets.d_b, real_a, o);
}

GeneratorDirection generator_direction_b(CycleGanNets& nets, const at::Tensor& real_b,
                                         const GanOptions& o) {
  return direction(nets.g_b, nets.g_a, nets.d_a, real_b, o);
}

GeneratorPass combine_directions(const GeneratorDirection& a, const GeneratorDirection& b) {
  GeneratorPass p;
  p.fake_b = a.fake;
  p.rec_a = a.rec;
  p.fake_a = b.fake;
  p.rec_b = b.rec;
  p.g_adv_a = a.adv;
  p.g_adv_b = b.adv;
  p.cycle_a = a.cycle;
  p.cycle_b = b.cycle;
  p.idt_a = b.idt;  // |G_A(b) - b|: computed in direction b, where G_A is the way back
  p.idt_b = a.idt;
  p.g_total = p.g_adv_a + p.g_adv_b + p.cycle_a + p.cycle_b + p.idt_a + p.idt_b;
  return p;
}

GeneratorPass generator_pass(CycleGanNets& nets, const at::Tensor& real_a, const at::Tensor& real_b,
                             const GanOptions& o) {
  return combine_directions(generator_direction_a(nets, real_a, o),
                            generator_direction_b(nets, real_b, o));
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
