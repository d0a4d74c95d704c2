// Test helper: a tiny GAN run directory and the train-gan arguments the dist tests use.
#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "data/image_io.h"
#include "data/manifest.h"
#include "train/gan_test_support.h"

namespace cxrsynth::testing {

// R/data/manifest.csv with 8 normal and 8 covid phantoms (32 px) in the normal-vs-covid GAN set.
inline void write_gan_run(const std::filesystem::path& run) {
  std::vector<data::ManifestRow> rows;
  for (auto c : {data::PhantomClass::kNormal, data::PhantomClass::kCovid}) {
    for (const auto& im : phantom_images(c, 8, 32)) {
      data::ManifestRow r;
      r.id = fmt::format("{}-{}-{}", data::phantom_class_name(c), im.patient_id, im.view_index);
      r.source = "phantom";
      r.patient_id = "phantom:" + im.patient_id;
      r.label = data::phantom_class_name(c);
      r.split = "train";
      r.original_path = r.id;
      r.path = "images/" + r.id + ".png";
      r.width = r.height = 32;
      r.bit_depth = 8;
      r.sha256 = std::string(64, '0');
      r.gan_tasks = "normal-vs-covid";
      cv::Mat u8;
      im.image.convertTo(u8, CV_8U, 255.0);
      data::write_png_atomic(run / "data" / r.path, u8);
      rows.push_back(r);
    }
  }
  data::write_manifest(run / "data" / "manifest.csv", rows);
}

inline std::string gan_args(const std::filesystem::path& run, int batch, int steps_per_epoch,
                            int checkpoint_every) {
  return fmt::format(
      "train-gan --task normal-vs-covid --run-dir {} --config {} --set gan.batch_size={} "
      "--set gan.pool_size=0 --set gan.epochs=2 --set gan.decay_epochs=1 "
      "--set gan.steps_per_epoch={} --set gan.checkpoint_every={} --set gan.sample_every=0 "
      "--threads 1 -q",
      run.string(), (source_dir() / "configs" / "smoke.json").string(), batch, steps_per_epoch,
      checkpoint_every);
}

}  // namespace cxrsynth::testing
