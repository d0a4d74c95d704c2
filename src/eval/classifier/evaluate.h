// The `evaluate` stage: scores a trained classifier (R/classifiers/<task>/<config>/<arch>/
// model.pt) on the task's real test images and writes R/eval/<task>/<config>/<arch>/:
//   predictions.csv  id, patient_id, label, p_covid, pred (eval/metrics_io.h)
//   metrics.json     TP FP TN FN, sensitivity ... PR-AUC with patient-level bootstrap
//                    intervals; optionally a fixed-specificity operating point (threshold from
//                    the validation split)
//   features.csv     id, patient_id, label, split, origin, f0..f<C-1>: pooled features of the
//                    test images (split "test"), then of `feature_extras` (split "extra", their
//                    own origin, e.g. synthetic:<task> for the G_NC / G_PC groups of Fig. 8)
//   evaluation.json  what was evaluated: model, task, config, arch, counts, and whether the
//                    classifier was validated on the test set (the authors' behaviour)
#pragma once

#include <cstdint>
#include <string>

#include "core/run_dir.h"
#include "eval/classifier/evaluate_options.h"
#include "train/classifier/classifier_data.h"

namespace cxrsynth::eval {

struct EvaluateResult {
  double sensitivity = 0;
  std::int64_t false_negatives = 0;
  std::int64_t n_test = 0;
};

EvaluateResult run_evaluate(const EvaluateOptions& options, const std::string& task,
                            const std::string& train_config, const std::string& arch,
                            std::uint64_t run_seed, int threads, const RunDir& run_dir,
                            const std::vector<train::ClassifierSample>& feature_extras = {});

// R/eval/<task>/<train_config>/<arch>
std::filesystem::path evaluation_output_dir(const RunDir& run_dir, const std::string& task,
                                            const std::string& train_config,
                                            const std::string& arch);

}  // namespace cxrsynth::eval
