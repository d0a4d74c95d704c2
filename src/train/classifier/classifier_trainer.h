// Classifier training (paper sec. 4, the authors' Keras recipe): binary cross-entropy on the
// 2-way softmax, Adadelta, ReduceLROnPlateau and early stopping on the validation loss with
// the best weights restored, as Keras computes them (see classifier_trainer.cpp).
//
// Output folder (R/classifiers/<task>/<train_config>/<arch>/):
//   checkpoint.state  whole training state after each epoch (train/checkpoint.h format:
//                     weights, Adadelta state, best weights, schedule and early-stopping
//                     counters, history, a fingerprint of options and data); resuming continues
//                     exactly where it stopped: same seed, same results
//   history.csv       epoch, lr, train_loss, val_loss, val_accuracy, val_sensitivity,
//                     val_specificity, improved (1 when the epoch set a new best)
//   model.pt          the final (best) classifier, weights_io.h format (Python loads it)
//   training.json     counts, skew (eq. 6), best epoch, why training stopped, validation split
// Determinism: initialisation from derive_seed(seed, "<name>/init"); the order of epoch e from
// Rng(derive_seed(seed, "<name>/epoch/<e>")), so results depend on neither resume points nor
// data-loading order.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

#include "core/run_dir.h"
#include "train/classifier/classifier_data.h"
#include "train/classifier/classifier_options.h"

namespace cxrsynth::train {

struct ClassifierTrainResult {
  int epochs_run = 0;  // epochs completed in total
  int best_epoch = 0;  // 1-based; 0 when none
  double best_val_loss = 0;
  bool stopped_early = false;
  bool resumed = false;       // continued from a checkpoint
  bool already_done = false;  // the folder held a finished run; nothing was trained
  bool interrupted = false;   // stopped by stop_after_epochs
  std::filesystem::path model_file;
};

struct ClassifierTrainJob {
  std::string name;  // seed namespace and label: "classifier/<task>/<config>/<arch>"
  std::map<std::string, std::string> metadata;  // stored in model.pt and training.json
  int stop_after_epochs = 0;  // > 0: return after this many epochs in this call (tests, budgets)
};

// Trains on data.train, validates on `validation` and writes the folder above. Resumes from
// out_dir/checkpoint.state when present (UsageError when it was made with other options or
// data); returns at once when the folder holds a finished run.
ClassifierTrainResult train_classifier(const ClassifierOptions& options,
                                       const std::vector<ClassifierSample>& train_set,
                                       const std::vector<ClassifierSample>& validation,
                                       const std::filesystem::path& out_dir, std::uint64_t run_seed,
                                       const ClassifierTrainJob& job);

// The `train-classifier` stage: the task's images from R/data/manifest.csv, the training
// configuration's training set (now: "real"), validation per options.validation_split.
ClassifierTrainResult run_train_classifier(const ClassifierOptions& options,
                                           const std::string& task, const std::string& train_config,
                                           std::uint64_t run_seed, const RunDir& run_dir);

// R/classifiers/<task>/<train_config>/<arch>
std::filesystem::path classifier_output_dir(const RunDir& run_dir, const std::string& task,
                                            const std::string& train_config,
                                            const std::string& arch);

// The training configurations implemented so far.
const std::vector<std::string>& train_config_names();

}  // namespace cxrsynth::train
