// Keras' binary cross-entropy on a 2-way softmax (the authors' loss, paper sec. 4):
// p = softmax(logits) clipped to [1e-7, 1 - 1e-7] (Keras' epsilon), per-sample loss
// -mean_k (y_k log p_k + (1 - y_k) log(1 - p_k)) over the two one-hot outputs. With two classes
// both terms equal -log p_true, so it is the cross-entropy except for the clipping.
#pragma once

#include <torch/types.h>

namespace cxrsynth::train {

inline constexpr double kKerasEpsilon = 1e-7;

// logits [N, 2], labels [N] int64 (1 = covid) -> per-sample loss [N].
torch::Tensor bce_on_softmax(const torch::Tensor& logits, const torch::Tensor& labels);

}  // namespace cxrsynth::train
