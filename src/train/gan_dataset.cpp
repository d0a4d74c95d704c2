#include "train/gan_dataset.h"

#include <ATen/ATen.h>
#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "core/sha256.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/tasks.h"

namespace cxrsynth::train {

at::Tensor GanDataset::to_tensor(const std::vector<cv::Mat>& images01, int size, int channels) {
  auto out = at::empty({static_cast<int64_t>(images01.size()), channels, size, size}, at::kFloat);
  for (std::size_t i = 0; i < images01.size(); ++i) {
    cv::Mat m = images01[i];
    CXRSYNTH_CHECK(m.channels() == 1, "GAN image {}: {} channels (expected one)", i, m.channels());
    if (m.type() != CV_32F) m.convertTo(m, CV_32F);
    if (m.rows != size || m.cols != size) {
      cv::Mat r;
      const bool shrink = m.rows > size || m.cols > size;
      cv::resize(m, r, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
      m = r;
    }
    m = m.clone();  // continuous
    auto t = at::from_blob(m.data, {size, size}, at::kFloat).clone().mul_(2.0).sub_(1.0);
    for (int c = 0; c < channels; ++c) out[i][c].copy_(t);
  }
  return out;
}

GanDataset::GanDataset(const std::vector<cv::Mat>& images_a, std::vector<std::string> ids_a,
                       const std::vector<cv::Mat>& images_b, std::vector<std::string> ids_b,
                       const GanOptions& options, std::uint64_t run_seed, std::string task)
    : ids_a_(std::move(ids_a)),
      ids_b_(std::move(ids_b)),
      options_(options),
      seed_(run_seed),
      task_(std::move(task)) {
  CXRSYNTH_CHECK(images_a.size() == ids_a_.size() && images_b.size() == ids_b_.size(),
                 "GAN dataset: image and id counts differ");
  if (images_a.empty() || images_b.empty())
    throw Error(
        fmt::format("GAN task {}: domain {} has no images", task_, images_a.empty() ? "A" : "B"));
  a_ = to_tensor(images_a, options.load_size, options.generator.channels);
  b_ = to_tensor(images_b, options.load_size, options.generator.channels);
  steps_per_epoch_ = resolved_steps_per_epoch(options, size_a(), size_b());
}

GanDataset GanDataset::from_manifest(const std::filesystem::path& manifest,
                                     const std::filesystem::path& data_dir, const std::string& task,
                                     const GanOptions& options, std::uint64_t run_seed) {
  const auto& t = data::find_task(task);
  const auto rows = data::read_manifest(manifest);
  std::vector<cv::Mat> a, b;
  std::vector<std::string> ida, idb;
  for (const auto& row : rows) {
    if (!data::in_gan_task(row, task)) continue;
    const bool is_a = row.label == t.label_a, is_b = row.label == t.label_b;
    if (!is_a && !is_b)
      throw Error(
          fmt::format("{}: row {} is in GAN task {} but its label '{}' is neither {} nor {}",
                      manifest.string(), row.id, task, row.label, t.label_a, t.label_b));
    if (row.split != "train")
      throw Error(
          fmt::format("{}: row {} is in GAN task {} but in split '{}' (only train rows "
                      "may train the GAN)",
                      manifest.string(), row.id, task, row.split));
    cv::Mat img = with_context("while loading GAN image " + row.id, [&] {
      return data::load_image_unit(data::image_path(data_dir, row));
    });
    (is_a ? a : b).push_back(img);
    (is_a ? ida : idb).push_back(row.id);
  }
  if (a.empty() || b.empty())
    throw Error(
        fmt::format("{}: no rows of GAN task {} with label {} (gan_tasks column); run "
                    "`cxrsynth prepare` with this task",
                    manifest.string(), task, a.empty() ? t.label_a : t.label_b));
  log_info("gan/{}: {} images in A ({}), {} in B ({})", task, a.size(), t.label_a, b.size(),
           t.label_b);
  return GanDataset(a, std::move(ida), b, std::move(idb), options, run_seed, task);
}

std::vector<std::int64_t> GanDataset::order(char domain, int epoch) const {
  const int n = domain == 'a' ? size_a() : size_b();
  std::vector<std::int64_t> perm(n);
  for (int i = 0; i < n; ++i) perm[i] = i;
  Rng rng(derive_seed(seed_, fmt::format("gan/{}/order-{}/{}", task_, domain, epoch)));
  for (int i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
  return perm;
}

at::Tensor GanDataset::crop_flip(const at::Tensor& image, int y, int x, bool flip) const {
  const int c = options_.crop_size;
  auto out = image.slice(1, y, y + c).slice(2, x, x + c);
  if (flip) out = out.flip({2});
  return out;
}

void GanDataset::set_sharding(const dist::Sharding& sharding) {
  CXRSYNTH_CHECK(sharding.world >= 1 && sharding.rank >= 0 && sharding.rank < sharding.world,
                 "GAN data: shard {} of {} is not a valid rank", sharding.rank, sharding.world);
  sharding_ = sharding;
  GanOptions global = options_;
  global.batch_size *= sharding.world;
  steps_per_epoch_ = resolved_steps_per_epoch(global, size_a(), size_b());
}

GanBatch GanDataset::batch(std::int64_t step) const {
  const int epoch = static_cast<int>(step / steps_per_epoch_);
  const std::int64_t s = step % steps_per_epoch_;
  const auto pa = order('a', epoch), pb = order('b', epoch);
  Rng aug(derive_seed(seed_, fmt::format("gan/{}/augment/{}", task_, step)));
  // Global batch bs = per-rank batch x world; this rank keeps [first, first + batch_size).
  const int bs = options_.batch_size * sharding_.world,
            room = options_.load_size - options_.crop_size;
  const int first = options_.batch_size * sharding_.rank;
  auto pick = [&](const at::Tensor& images, const std::vector<std::int64_t>& perm) {
    std::vector<at::Tensor> out;
    for (int j = 0; j < bs; ++j) {
      const auto idx = perm[(s * bs + j) % static_cast<std::int64_t>(perm.size())];
      const int y = static_cast<int>(aug.below(room + 1));
      const int x = static_cast<int>(aug.below(room + 1));
      const bool flip = options_.flip && aug.uniform() < 0.5;
      if (j >= first && j < first + options_.batch_size)
        out.push_back(crop_flip(images[idx], y, x, flip));
    }
    return at::stack(out).contiguous();
  };
  GanBatch b;
  b.real_a = pick(a_, pa);
  b.real_b = pick(b_, pb);
  return b;
}

GanBatch GanDataset::fixed_samples(int n) const {
  const int off = (options_.load_size - options_.crop_size) / 2;
  auto take = [&](const at::Tensor& images) {
    std::vector<at::Tensor> out;
    for (int i = 0; i < std::min<int64_t>(n, images.size(0)); ++i)
      out.push_back(crop_flip(images[i], off, off, false));
    return at::stack(out).contiguous();
  };
  return {take(a_), take(b_)};
}

std::string GanDataset::fingerprint() const {
  Sha256 h;
  for (const auto& id : ids_a_) h.update("A:" + id + "\n");
  for (const auto& id : ids_b_) h.update("B:" + id + "\n");
  return h.hex_digest();
}

}  // namespace cxrsynth::train
