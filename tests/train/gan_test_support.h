// Shared fixtures of the GAN tests: phantom domains and the smoke preset.
#pragma once

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/config_io.h"
#include "core/csv.h"
#include "data/phantom.h"
#include "support/temp_dir.h"
#include "train/gan_dataset.h"
#include "train/gan_options.h"

namespace cxrsynth::testing {

// Phantom images of one class: n images of ceil(n / 3) patients, CV_32F in [0, 1].
inline std::vector<data::PhantomImage> phantom_images(data::PhantomClass c, int n, int size,
                                                      std::uint64_t seed = 11) {
  data::PhantomOptions o;
  o.image_size = size;
  std::vector<data::PhantomImage> out;
  for (int i = 0; i < n; ++i) out.push_back(data::make_phantom_image(c, i / 3, i % 3, o, seed));
  return out;
}

inline train::GanDataset phantom_dataset(const train::GanOptions& o, int n_a, int n_b, int size,
                                         std::uint64_t seed = 0) {
  std::vector<cv::Mat> a, b;
  std::vector<std::string> ida, idb;
  for (const auto& im : phantom_images(data::PhantomClass::kNormal, n_a, size)) {
    a.push_back(im.image);
    ida.push_back(fmt::format("{}_{}", im.patient_id, im.view_index));
  }
  for (const auto& im : phantom_images(data::PhantomClass::kCovid, n_b, size)) {
    b.push_back(im.image);
    idb.push_back(fmt::format("{}_{}", im.patient_id, im.view_index));
  }
  return train::GanDataset(a, ida, b, idb, o, seed, "normal-vs-covid");
}

inline Config load_preset(const std::string& name) {
  return config::load({(source_dir() / "configs" / (name + ".json")).string()}, {});
}

// losses.csv without its last (wall-clock) column: what must match between runs.
inline std::string losses_without_time(const std::filesystem::path& p) {
  const auto t = read_csv(p);
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    auto row = t.row(i);
    row.pop_back();
    out += csv_line(row);
  }
  return out;
}

}  // namespace cxrsynth::testing
