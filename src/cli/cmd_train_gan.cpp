// `cxrsynth train-gan --task normal-vs-covid|pneumonia-vs-covid --run-dir R [--resume]`:
// trains the task's CycleGAN on the GAN subset of R/data/manifest.csv and writes R/gan/<task>/
// (train/cyclegan_trainer.h).
#include <memory>

#include "cli/common.h"
#include "data/tasks.h"
#include "train/cyclegan_trainer.h"

namespace cxrsynth::cli {

void add_train_gan_command(CLI::App& app) {
  auto args = std::make_shared<CommonArgs>();
  auto task = std::make_shared<std::string>();
  auto resume = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "train-gan",
      "Train the CycleGAN of a task (A = Normal or Pneumonia, B = COVID-19) on the prepared GAN "
      "subset; writes R/gan/<task>/ (checkpoint.pt, losses.csv, samples/, generator_ab.pt)");
  add_common_options(*cmd, *args, /*needs_run_dir=*/true);
  cmd->add_option("--task", *task, "normal-vs-covid | pneumonia-vs-covid")
      ->required()
      ->check(CLI::IsMember(data::task_names()));
  cmd->add_flag("--resume", *resume,
                "Continue from R/gan/<task>/checkpoint.pt (refused when options differ)");
  cmd->callback([args, task, resume] {
    const Config cfg = begin_stage(*args, "train-gan");
    train::run_train_gan(cfg.gan, *task, static_cast<std::uint64_t>(cfg.run.seed), *resume,
                         RunDir(args->run_dir));
  });
}

}  // namespace cxrsynth::cli
