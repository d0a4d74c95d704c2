// `cxrsynth evaluate --run-dir R --task T --arch A [--train-config real]`: scores the trained
// classifier on the task's real test images; writes R/eval/<task>/<config>/<arch>/
// (predictions.csv, metrics.json, features.csv, evaluation.json; eval/classifier/evaluate.h).
#include <memory>

#include "cli/common.h"
#include "data/tasks.h"
#include "eval/classifier/evaluate.h"
#include "models/classifiers/classifier_model_options.h"

namespace cxrsynth::cli {

void add_evaluate_command(CLI::App& app) {
  auto args = std::make_shared<CommonArgs>();
  auto task = std::make_shared<std::string>();
  auto arch = std::make_shared<std::string>();
  auto train_config = std::make_shared<std::string>("real");
  auto* cmd = app.add_subcommand(
      "evaluate",
      "Score a trained classifier on the task's real test images: predictions.csv, metrics.json "
      "(sensitivity, false negatives, ... with patient-level bootstrap intervals), features.csv");
  add_common_options(*cmd, *args, /*needs_run_dir=*/true);
  cmd->add_option("--task", *task, "normal-vs-covid | pneumonia-vs-covid")
      ->required()
      ->check(CLI::IsMember(data::task_names()));
  cmd->add_option("--arch", *arch, "Backbone of the classifier to score")
      ->required()
      ->check(CLI::IsMember(models::classifier_arch_names()));
  cmd->add_option("--train-config", *train_config, "Training configuration (folder name)");
  cmd->callback([args, task, arch, train_config] {
    const Config cfg = begin_stage(*args, "evaluate");
    eval::run_evaluate(cfg.evaluate, *task, *train_config, *arch,
                       static_cast<std::uint64_t>(cfg.run.seed), cfg.run.threads,
                       RunDir(args->run_dir));
  });
}

}  // namespace cxrsynth::cli
