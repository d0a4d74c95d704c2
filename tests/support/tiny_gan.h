// The smallest CycleGAN the stage tests train: ResNet generator with one block and 4 filters,
// residual output and resize + convolution, a two-layer PatchGAN, 32 px, 3 steps of batch 2, no
// sample grids. Tests that need a trained generator in a run directory (experiment, audit)
// start from it.
#pragma once

#include "train/gan_options.h"

namespace cxrsynth::testing {

inline void make_tiny_gan(train::GanOptions& g) {
  g.generator.arch = "resnet";
  g.generator.filters = 4;
  g.generator.blocks = 1;
  g.generator.upsample = "resize-conv";
  g.generator.residual = true;
  g.discriminator.arch = "patchgan";
  g.discriminator.filters = 4;
  g.discriminator.layers = 2;
  g.init = "normal";
  g.batch_size = 2;
  g.epochs = 1;
  g.steps_per_epoch = 3;
  g.load_size = 32;
  g.crop_size = 32;
  g.checkpoint_every = 100;
  g.sample_every = 0;
  g.samples = 1;
}

}  // namespace cxrsynth::testing
