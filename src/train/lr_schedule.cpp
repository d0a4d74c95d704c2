#include "train/lr_schedule.h"

#include <algorithm>

namespace cxrsynth::train {

double lr_factor(const GanOptions& o, int epoch) {
  if (o.lr_policy != "linear" || o.decay_epochs <= 0) return 1.0;
  const int n_constant = o.epochs - o.decay_epochs;
  const double f = 1.0 - std::max(0, epoch + 1 - n_constant) / double(o.decay_epochs + 1);
  return std::max(0.0, f);
}

}  // namespace cxrsynth::train
