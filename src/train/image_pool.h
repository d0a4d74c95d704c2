// The reference CycleGAN's image pool (Shrivastava et al. 2017): the discriminator sees a mix
// of the newest fakes and up to `size` earlier ones, which damps oscillation. size 0 = off.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "core/seed.h"

namespace cxrsynth::train {

class ImagePool {
 public:
  explicit ImagePool(int size) : size_(size) {}

  // For each image of the batch [N, C, H, W] (detached): while the pool is not full, store it
  // and return it; afterwards, with probability 1/2 return a stored image and store the new
  // one in its place, else return the new one. Draws from `rng` (reference: Python random).
  at::Tensor query(const at::Tensor& images, Rng& rng);

  // Pool contents as one tensor [K, C, H, W] (undefined when empty), and back.
  at::Tensor contents() const;
  void restore(const at::Tensor& contents);
  int count() const { return static_cast<int>(images_.size()); }

 private:
  int size_;
  std::vector<at::Tensor> images_;
};

}  // namespace cxrsynth::train
