// The CycleGAN objective (paper eq. 1-5; METHOD.md section 2).
//
// Naming: G_A maps A -> B, G_B maps B -> A; D_B judges domain B (real b vs G_A(a)), D_A judges
// domain A (real a vs G_B(b)). (The reference CycleGAN code calls these D_A and D_B the other
// way round; the paper and METHOD.md use ours.)
//   g_adv_a  = adv(D_B(G_A(a)), real)            eq. 1 for G_A
//   g_adv_b  = adv(D_A(G_B(b)), real)            eq. 2 for G_B
//   cycle_a  = lambda_cycle * |G_B(G_A(a)) - a|_1 (mean)    eq. 3
//   cycle_b  = lambda_cycle * |G_A(G_B(b)) - b|_1
//   idt_a    = lambda_identity * |G_A(b) - b|_1    identity (0 when lambda_identity = 0)
//   idt_b    = lambda_identity * |G_B(a) - a|_1
//   g_total  = sum of the six
//   d_b      = 0.5 * (adv(D_B(b), real) + adv(D_B(pool(G_A(a))), fake))   halved as in both codes
//   d_a      = 0.5 * (adv(D_A(a), real) + adv(D_A(pool(G_B(b))), fake))
// adv: lsgan = MSE to 1 / 0 (authors' code, reference default); vanilla = BCE with logits (the
// log loss the paper writes); wgan-gp = -mean(D(x)) for "real", mean(D(x)) for "fake" (reference
// CycleGAN GANLoss('wgangp'); so g_adv = -mean(D(G(x))) and d = 0.5 * (mean(D(fake)) -
// mean(D(real)))). With wgan-gp the trainer adds 0.5 * gradient_penalty to each d (lambda_gp,
// reference cal_gradient_penalty); the reference CycleGAN defines that penalty but its
// cycle_gan_model never calls it. The penalty is halved with the critic terms, so it keeps the
// WGAN-GP paper's weight relative to them; it uses the pooled fakes the discriminator sees.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>

#include "models/cyclegan/networks.h"
#include "train/gan_options.h"

namespace cxrsynth::train {

at::Tensor adversarial_loss(const at::Tensor& prediction, bool target_real,
                            const std::string& kind);

struct CycleGanNets {
  models::Generator g_a{nullptr}, g_b{nullptr};
  models::Discriminator d_a{nullptr}, d_b{nullptr};
};

// Builds the four networks from the options (weights from LibTorch's default generator).
CycleGanNets make_nets(const GanOptions& o);

struct GeneratorPass {
  at::Tensor fake_b, rec_a, fake_a, rec_b;                               // images
  at::Tensor g_adv_a, g_adv_b, cycle_a, cycle_b, idt_a, idt_b, g_total;  // scalars
};

// Forward of the generator objective on a batch (gradients flow into G_A, G_B; the
// discriminators are evaluated but the caller steps only the generators' optimiser).
GeneratorPass generator_pass(CycleGanNets& nets, const at::Tensor& real_a, const at::Tensor& real_b,
                             const GanOptions& o);

// 0.5 * (adv(D(real), real) + adv(D(fake.detach()), fake)).
at::Tensor discriminator_loss(models::Discriminator& d, const at::Tensor& real,
                              const at::Tensor& fake, const std::string& kind);

// WGAN-GP (Gulrajani et al. 2017; reference CycleGAN cal_gradient_penalty, type 'mixed'):
// x = alpha_i * real + (1 - alpha_i) * fake per image i (alpha: [N] in [0, 1)),
// lambda_gp * mean_i (||dD(x)/dx_i||_2 - 1)^2, differentiable w.r.t. D's weights
// (create_graph). The norm is of (gradient + 1e-16), as in the reference.
at::Tensor gradient_penalty(models::Discriminator& d, const at::Tensor& real,
                            const at::Tensor& fake, const at::Tensor& alpha, double lambda_gp);

}  // namespace cxrsynth::train
