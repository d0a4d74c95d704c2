#include "train/image_pool.h"

#include <ATen/ATen.h>

#include "core/error.h"

namespace cxrsynth::train {

at::Tensor ImagePool::query(const at::Tensor& images, Rng& rng) {
  if (size_ == 0) return images;
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < images.size(0); ++i) {
    auto image = images[i].detach().unsqueeze(0).clone();
    if (count() < size_) {
      images_.push_back(image);
      out.push_back(image);
    } else if (rng.uniform() > 0.5) {
      const auto id = rng.below(static_cast<std::uint64_t>(size_));
      out.push_back(images_[id].clone());
      images_[id] = image;
    } else {
      out.push_back(image);
    }
  }
  return at::cat(out, 0);
}

at::Tensor ImagePool::contents() const {
  if (images_.empty()) return {};
  return at::cat(images_, 0);
}

void ImagePool::restore(const at::Tensor& contents) {
  images_.clear();
  if (!contents.defined() || contents.numel() == 0) return;
  CXRSYNTH_CHECK(contents.size(0) <= size_, "image pool: {} stored images exceed pool size {}",
                 contents.size(0), size_);
  for (int64_t i = 0; i < contents.size(0); ++i)
    images_.push_back(contents[i].unsqueeze(0).clone());
}

}  // namespace cxrsynth::train
