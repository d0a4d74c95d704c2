#include "train/gan_options.h"

#include <algorithm>

#include "core/error.h"

namespace cxrsynth::train {

void validate_gan_options(const GanOptions& o) {
  if (o.crop_size > o.load_size)
    throw UsageError(
        fmt::format("gan.crop_size {} is larger than gan.load_size {}", o.crop_size, o.load_size));
  const int mult = o.generator.arch == "unet" ? 16 : 4;
  if (o.crop_size % mult != 0)
    throw UsageError(fmt::format(
        "gan.crop_size {}: the {} generator needs a multiple of {} (its stride-2 steps)",
        o.crop_size, o.generator.arch, mult));
  if (o.generator.channels != 1 && o.generator.channels != 3)
    throw UsageError(
        fmt::format("gan.generator.channels: {} (expected 1 or 3)", o.generator.channels));
  if (o.lr_policy == "linear" && (o.decay_epochs < 1 || o.decay_epochs > o.epochs))
    throw UsageError(fmt::format(
        "gan.decay_epochs {}: the linear lr_policy needs 1 <= decay_epochs <= epochs ({})",
        o.decay_epochs, o.epochs));
  if (o.lr_policy == "constant" && o.decay_epochs != 0)
    throw UsageError(fmt::format(
        "gan.decay_epochs {} with lr_policy constant: set lr_policy to linear or decay_epochs "
        "to 0",
        o.decay_epochs));
  if (models::discriminator_output_size(o.discriminator, o.crop_size) < 1)
    throw UsageError(
        fmt::format("gan.discriminator.layers {}: no output left at crop size {}; use fewer layers",
                    o.discriminator.layers, o.crop_size));
}

int resolved_steps_per_epoch(const GanOptions& o, int size_a, int size_b) {
  if (o.steps_per_epoch > 0) return o.steps_per_epoch;
  return std::max(1, std::max(size_a, size_b) / o.batch_size);
}

}  // namespace cxrsynth::train
