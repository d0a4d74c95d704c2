// `cxrsynth train-classifier --run-dir R --task T --arch A [--train-config real]`: trains one
// classifier of the paper's grid (sec. 4) and writes R/classifiers/<task>/<train_config>/<arch>/
// (train/classifier/classifier_trainer.h). An unfinished run in that folder is resumed exactly;
// a finished one is kept.
#include <memory>

#include "cli/common.h"
#include "data/tasks.h"
#include "models/classifiers/classifier_model_options.h"
#include "train/classifier/classifier_trainer.h"

namespace cxrsynth::cli {

void add_train_classifier_command(CLI::App& app) {
  auto args = std::make_shared<CommonArgs>();
  auto task = std::make_shared<std::string>();
  auto arch = std::make_shared<std::string>();
  auto train_config = std::make_shared<std::string>("real");
  auto weights = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "train-classifier",
      "Train a COVID-19 classifier (VGG-16, ResNet-50, DenseNet, or DenseNet features + "
      "bagging trees: densenet121-bgt) on a task's training set; writes "
      "R/classifiers/<task>/<train-config>/<arch>/ (model.pt, history.csv, training.json, "
      "checkpoint.state; bgt.json and trees.yml for *-bgt). Resumes an unfinished run of the "
      "same options.");
  add_common_options(*cmd, *args, /*needs_run_dir=*/true);
  cmd->add_option("--task", *task, "normal-vs-covid | pneumonia-vs-covid")
      ->required()
      ->check(CLI::IsMember(data::task_names()));
  cmd->add_option("--arch", *arch, "Backbone (= --set classifier.model.arch=...)")
      ->check(CLI::IsMember(models::classifier_arch_names()));
  cmd->add_option("--train-config", *train_config,
                  "Training set: real (the task's real training split)")
      ->check(CLI::IsMember(train::train_config_names()));
  cmd->add_option("--weights", *weights,
                  "Torchvision weights from scripts/export_torchvision.py (= --set "
                  "classifier.weights=...); for *-bgt the frozen feature extractor's weights")
      ->check(CLI::ExistingFile);
  cmd->callback([args, task, arch, train_config, weights] {
    if (!arch->empty()) args->sets.push_back("classifier.model.arch=" + *arch);
    if (!weights->empty()) args->sets.push_back("classifier.weights=" + *weights);
    const Config cfg = begin_stage(*args, "train-classifier");
    train::run_train_classifier(cfg.classifier, *task, *train_config,
                                static_cast<std::uint64_t>(cfg.run.seed), RunDir(args->run_dir));
  });
}

}  // namespace cxrsynth::cli
