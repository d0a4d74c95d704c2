// Internals of the experiment grid (experiment.h), shared by its source files; torch-free.
//   grid.cpp            what the grid holds: validation, cells, needed synthetic sets, labels
//   synthetic_sets.cpp  prepared data, CycleGANs and synthetic sets (re-made when stale),
//                       content hashes of the images
//   cells.cpp           one cell: its training set, staleness, training, evaluation, metrics
//   tables.cpp          verdicts and the Markdown / CSV / JSON tables
//   experiment.cpp      run_experiment: the order of the above
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/run_dir.h"
#include "experiment/experiment.h"
#include "train/classifier/classifier_data.h"

namespace cxrsynth::experiment::detail {

inline constexpr const char* kNvc = "normal-vs-covid";
inline constexpr const char* kPvc = "pneumonia-vs-covid";

// ---- grid.cpp ----------------------------------------------------------------------------

std::string other_task(const std::string& task);
// real+gnc belongs to normal-vs-covid only, real+gpc to pneumonia-vs-covid only.
bool applies(const std::string& config, const std::string& task);
bool is_synthetic_config(const std::string& config);
// Synthetic sets (by generator task) a configuration of `task` needs.
std::vector<std::string> needed_synthetic(const std::string& config, const std::string& task);
// UsageError naming the first bad field of `o`.
void validate(const ExperimentOptions& o);

struct PlannedCell {
  std::string task, config, arch;
  std::int64_t seed = 0;
  std::string cell_dir;  // the configuration, then "/seed-<s>" when several seeds run
};
// Every cell, in table order: tasks x configurations (paper order) x models x seeds.
std::vector<PlannedCell> plan_grid(const ExperimentOptions& o);
// The generator tasks whose synthetic sets the grid needs, sorted.
std::vector<std::string> synthetic_tasks_needed(const ExperimentOptions& o);

// ---- synthetic_sets.cpp ------------------------------------------------------------------

// Runs `prepare` unless R/data/manifest.csv exists.
void ensure_prepared(const Config& cfg, const RunDir& run_dir);
// Makes R/synthetic/<task>/manifest.csv unless it exists AND was made by the current
// generator (checkpoint_sha256 of its rows == sha256 of R/gan/<task>/generator_ab.pt); trains
// the CycleGAN first when it is missing. Says why it re-synthesizes.
void ensure_synthetic(const Config& cfg, const std::string& task, const RunDir& run_dir);
// sha256 of each image's content by id: real images from R/data/manifest.csv (sha256 column),
// synthetic ones from R/synthetic/<task>/manifest.csv (output_sha256) for `synthetic_tasks`.
std::map<std::string, std::string> content_hashes(const RunDir& run_dir,
                                                  const std::vector<std::string>& synthetic_tasks);

// ---- cells.cpp ---------------------------------------------------------------------------

struct GridInputs {
  std::map<std::string, train::ClassifierData> data_by_task;
  std::map<std::string, std::vector<train::ClassifierSample>> synthetic;  // by generator task
  std::map<std::string, std::string> content_sha;                         // id -> sha256
  // Images whose pooled features every evaluation adds to features.csv (Fig. 8 groups).
  std::vector<train::ClassifierSample> feature_extras;
};

// sha256 over the ids, labels and content hashes of a training and a validation set:
// changes when any image changes, e.g. a synthetic set re-made by a retrained generator.
std::string training_data_sha256(const std::vector<train::ClassifierSample>& train_set,
                                 const std::vector<train::ClassifierSample>& validation,
                                 const std::map<std::string, std::string>& content_sha);

// Trains (or keeps) and evaluates (or keeps) one cell. A finished cell whose training data
// changed since it was trained is removed and retrained (logged).
CellResult run_cell(const PlannedCell& cell, std::size_t index, std::size_t total,
                    const Config& cfg, const RunDir& run_dir, GridInputs& inputs);

// ---- tables.cpp --------------------------------------------------------------------------

std::string fmt_skew(double skew);
// Per synthetic cell: does it beat both real-oversampled and real-weighted (sensitivity,
// balanced accuracy)?
void add_verdicts(std::vector<CellResult>& cells);
std::string md_tables(const ExperimentOptions& o, const std::vector<CellResult>& cells);
std::string csv_tables(const std::vector<CellResult>& cells);
std::string json_tables(const ExperimentOptions& o, const std::vector<CellResult>& cells);

}  // namespace cxrsynth::experiment::detail
