// Unpaired training data of one CycleGAN task: domain A (Normal or Pneumonia) and domain B
// (COVID-19), held in memory as [N, C, L, L] float tensors in [-1, 1] (L = load_size).
//
// Sampling is a pure function of (run seed, task, global step), so it needs no state in the
// checkpoint, and it is single-threaded, so it does not depend on the thread count:
//   epoch e = step / steps_per_epoch, s = step % steps_per_epoch;
//   A order of epoch e: Fisher-Yates permutation from Rng(derive_seed(seed,
//   "gan/<task>/order-a/<e>")); batch j-th A image: perm_a[(s * batch + j) mod |A|]; B likewise
//   with "order-b" (unpaired); crops and flips from Rng(derive_seed(seed,
//   "gan/<task>/augment/<step>")).
#pragma once

#include <ATen/core/Tensor.h>
#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "dist/env.h"
#include "train/gan_options.h"

namespace cxrsynth::train {

struct GanBatch {
  at::Tensor real_a, real_b;  // [batch, C, crop, crop] in [-1, 1]
};

class GanDataset {
 public:
  // images01: one-channel CV_32F images in [0, 1] (any size; resized to load_size).
  GanDataset(const std::vector<cv::Mat>& images_a, std::vector<std::string> ids_a,
             const std::vector<cv::Mat>& images_b, std::vector<std::string> ids_b,
             const GanOptions& options, std::uint64_t run_seed, std::string task);

  // Domains from R/data/manifest.csv: rows whose gan_tasks holds `task`, A = the task's A
  // label, B = its B label, images through data::load_image_unit. Throws naming the manifest
  // when a domain is empty.
  static GanDataset from_manifest(const std::filesystem::path& manifest,
                                  const std::filesystem::path& data_dir, const std::string& task,
                                  const GanOptions& options, std::uint64_t run_seed);

  // Data-parallel runs: this process takes slice `rank` of each global batch of
  // batch_size x world images (the images, crops and flips a one-process run with that batch
  // would draw); steps_per_epoch 0 then counts global batches. {0, 1} (default) = no change.
  void set_sharding(const dist::Sharding& sharding);

  GanBatch batch(std::int64_t step) const;
  // The first `n` images of each domain, centre-cropped, no flip (for sample grids and the
  // identity diagnostic).
  GanBatch fixed_samples(int n) const;

  int size_a() const { return static_cast<int>(ids_a_.size()); }
  int size_b() const { return static_cast<int>(ids_b_.size()); }
  int steps_per_epoch() const { return steps_per_epoch_; }
  // sha256 over the ids of both domains, in order (recorded in checkpoints).
  std::string fingerprint() const;

  // cv images in [0, 1] -> [N, C, size, size] in [-1, 1].
  static at::Tensor to_tensor(const std::vector<cv::Mat>& images01, int size, int channels);

 private:
  std::vector<std::int64_t> order(char domain, int epoch) const;
  at::Tensor crop_flip(const at::Tensor& image, int y, int x, bool flip) const;

  at::Tensor a_, b_;
  std::vector<std::string> ids_a_, ids_b_;
  GanOptions options_;
  std::uint64_t seed_;
  std::string task_;
  int steps_per_epoch_;
  dist::Sharding sharding_;
};

}  // namespace cxrsynth::train
