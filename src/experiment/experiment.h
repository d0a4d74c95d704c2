// The `experiment` stage (issue #6 item 6, METHOD.md sec. 3): the paper's grid of tasks x
// training configurations x models x seeds on one run directory, resumable, with the tables of
// Tables 1-2 (SEN %, FN; skew of each ACTUAL training set) plus specificity, ROC-AUC and
// balanced accuracy with patient-bootstrap 95% intervals, and per synthetic cell whether it
// beats both cheap alternatives (real-oversampled, real-weighted).
//
// What it reuses from R (and runs only when missing):
//   R/data/manifest.csv                 prepare (data section)
//   R/gan/<task>/summary.json           train-gan (gan section; resumes a checkpoint.pt)
//   R/synthetic/<task>/manifest.csv     synthesize (synth section)
//   R/classifiers/<task>/<cell>/<arch>/ a finished classifier is kept (train_classifier)
//   R/eval/<task>/<cell>/<arch>/        metrics.json kept when the classifier was kept
// <cell> is the configuration name, followed by "/seed-<s>" when more than one seed is run.
// Writes R/experiment/tables.md, tables.csv, tables.json (and prints tables.md).
//
// Synthetic positives must come from TRAIN-split sources: every row of a synthetic manifest is
// checked against R/data/manifest.csv (source id present with split train, patient not in
// val/test); a violation is an Error naming the file, line and patient.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/run_dir.h"
#include "experiment/experiment_options.h"
#include "train/classifier/classifier_data.h"

namespace cxrsynth::experiment {

struct MetricCI {
  double value = 0, lo = 0, hi = 0;  // NaN when undefined
};

struct CellResult {
  std::string task, config, arch, model_label, cell_dir;
  std::int64_t seed = 0;
  std::int64_t train_negatives = 0, train_positives = 0, train_synthetic = 0;
  double skew = 0;  // eq. 6 on the actual training set
  std::int64_t test_positives = 0, test_negatives = 0;
  std::int64_t fn = 0;
  MetricCI sensitivity, specificity, roc_auc, balanced_accuracy;
  bool trained_now = false;  // false when the classifier was reused
  bool validated_on_test = false;
  // Synthetic configurations only: verdict against real-oversampled and real-weighted.
  std::string verdict;
};

struct ExperimentResult {
  std::vector<CellResult> cells;
  std::string tables_markdown;
};

// The grid. `config` holds every stage's options (data, gan, synth, classifier, evaluate, run);
// `options` is normally config.experiment.
ExperimentResult run_experiment(const ExperimentOptions& options, const Config& config,
                                const RunDir& run_dir);

// The synthetic positives of `task`'s generator (G_NC for normal-vs-covid, G_PC for
// pneumonia-vs-covid) from R/synthetic/<task>/manifest.csv, label 1, origin
// "synthetic:<task>", after the train-split source check against R/data/manifest.csv.
std::vector<train::ClassifierSample> load_synthetic_positives(const RunDir& run_dir,
                                                              const std::string& task);

// Table label of a backbone: VGG-16, ResNet-50, DenseNet-121, ...; for 'densenet' the block
// configuration ("DenseNet (blocks 2-2-2, k 8, 16 stem filters)"). Never "DenseNet-102".
std::string model_label(const models::ClassifierModelOptions& model);

// Column label of a configuration in `task`'s table (paper wording: "Real+G_NC", ...).
std::string config_label(const std::string& config, const std::string& task);

}  // namespace cxrsynth::experiment
