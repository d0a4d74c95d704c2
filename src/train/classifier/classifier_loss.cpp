#include "train/classifier/classifier_loss.h"

#include <torch/torch.h>

namespace cxrsynth::train {

torch::Tensor bce_on_softmax(const torch::Tensor& logits, const torch::Tensor& labels) {
  const auto p = torch::softmax(logits, 1).clamp(kKerasEpsilon, 1.0 - kKerasEpsilon);
  const auto y = torch::one_hot(labels, logits.size(1)).to(p.scalar_type());
  return -(y * p.log() + (1 - y) * (1 - p).log()).mean(1);
}

}  // namespace cxrsynth::train
