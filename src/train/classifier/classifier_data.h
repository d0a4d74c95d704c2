// The images a classifier trains, validates and is tested on, for one task (data/tasks.h):
// negatives (label 0) are the task's domain A (normal or pneumonia), positives (label 1) are
// COVID-19. Built from the run's manifest; later training configurations append synthetic
// positives (append_samples) without touching the real ones. Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/run_dir.h"

namespace cxrsynth::train {

struct ClassifierSample {
  std::string id;
  std::string patient_id;
  std::filesystem::path path;   // absolute image path
  int label = 0;                // 1 = covid
  std::string origin = "real";  // real | synthetic:<gan task> | ...
};

struct ClassifierData {
  std::string task;
  std::vector<ClassifierSample> train, val, test;
};

struct ClassCounts {
  std::int64_t negatives = 0, positives = 0;
  // Eq. 6: skew = negatives / positives (infinite without positives).
  double skew() const;
};
ClassCounts count_classes(const std::vector<ClassifierSample>& samples);

// Rows of R/data/manifest.csv with the task's two labels, by split, in manifest order.
// Throws UsageError for an unknown task, Error when the manifest is missing or a split the
// classifier needs (train; val or test as `needed_splits` says) has no image of a class.
ClassifierData classifier_data_from_manifest(const RunDir& run_dir, const std::string& task);

// Appends `extra` to `into` (e.g. synthetic positives); ids must stay unique.
void append_samples(std::vector<ClassifierSample>& into,
                    const std::vector<ClassifierSample>& extra);

// Throws Error naming `what` when `samples` lacks either class.
void require_both_classes(const std::vector<ClassifierSample>& samples, const std::string& what);

}  // namespace cxrsynth::train
