// Learning-rate schedules (torch-free).
#pragma once

#include "train/gan_options.h"

namespace cxrsynth::train {

// Multiplier of the base learning rate during 0-based `epoch`.
//   constant: 1.
//   linear:   the reference CycleGAN's lambda_rule with n_epochs = epochs - decay_epochs:
//             1 - max(0, epoch + 1 - n_epochs) / (decay_epochs + 1), i.e. 1 for the first
//             n_epochs epochs, then falling linearly towards zero (1 / (decay_epochs + 1) in
//             the last epoch, 0 after it).
double lr_factor(const GanOptions& o, int epoch);

}  // namespace cxrsynth::train
