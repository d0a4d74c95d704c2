// One CycleGAN training step, as the reference CycleGAN's optimize_parameters() does it:
//   1. generators: discriminators frozen, zero_grad, generator_pass (gan_losses.h), check every
//      term, backward of g_total, Adam step of G_A + G_B;
//   2. discriminators: unfrozen, zero_grad, fakes through the image pools, discriminator_loss
//      for D_B (real b vs pooled G_A(a)) and D_A (real a vs pooled G_B(b)), check, backward of
//      d_a + d_b, Adam step of D_A + D_B.
// The trainer (cyclegan_trainer.cpp) and benchmarks/gan_step call this one function, so the
// benchmark times exactly what training runs.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <vector>

#include "core/seed.h"
#include "train/gan_losses.h"
#include "train/gan_options.h"
#include "train/image_pool.h"

namespace torch::optim {
class Adam;
}  // namespace torch::optim

namespace cxrsynth::train {

// The generator pass of the step (gan_losses.h: images and the generator terms, 0-dim
// tensors) and the two discriminator losses (d_a, d_b; with wgan-gp including their halved
// gradient penalties).
struct CycleGanStepLosses : GeneratorPass {
  at::Tensor d_a, d_b;
  at::Tensor gp_a, gp_b;  // gradient penalties before halving (wgan-gp only; else undefined)
};

// Called with each loss term ("g_adv_a", ..., "g_total", then "d_a", "d_b") before the
// backward pass that uses it; may throw to stop the step before any optimiser step of that
// phase (the trainer's non-finite check).
using LossCheck = std::function<void(const char* name, const at::Tensor& value)>;

// Called after each backward pass, before that phase's optimiser step, with the optimiser's
// parameters (data parallel: dist::all_reduce_gradients).
using GradientSync = std::function<void(const std::vector<at::Tensor>& params)>;

struct StepHooks {
  LossCheck check;
  GradientSync sync_gradients;
};

// `rng` is the step's data-side generator (the trainer derives it from the run seed, task and
// step): the pools draw from it first, then the wgan-gp interpolation weights.
CycleGanStepLosses cyclegan_step(CycleGanNets& nets, torch::optim::Adam& opt_g,
                                 torch::optim::Adam& opt_d, ImagePool& pool_a, ImagePool& pool_b,
                                 const at::Tensor& real_a, const at::Tensor& real_b, Rng& rng,
                                 const GanOptions& o, const StepHooks& hooks = {});

}  // namespace cxrsynth::train
