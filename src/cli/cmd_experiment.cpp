// `cxrsynth experiment --run-dir R [--config ...]`: the paper's grid (Tables 1-2) of tasks x
// training configurations x models x seeds, including the cheap alternatives real-oversampled
// and real-weighted. Runs whatever stage the run directory still lacks (prepare, train-gan,
// synthesize), keeps finished classifiers, and writes and prints R/experiment/tables.{md,csv,json}
// (experiment/experiment.h).
#include <memory>

#include "cli/common.h"
#include "experiment/experiment.h"

namespace cxrsynth::cli {

void add_experiment_command(CLI::App& app) {
  auto args = std::make_shared<CommonArgs>();
  auto* cmd = app.add_subcommand(
      "experiment",
      "Run the paper's experiment grid (Tables 1-2: real, real+G_NC/G_PC, real+G_NC+G_PC, "
      "synthetic only, and the cheap alternatives real-oversampled / real-weighted) x models x "
      "seeds; resumable; writes and prints R/experiment/tables.md, tables.csv, tables.json");
  add_common_options(*cmd, *args, /*needs_run_dir=*/true);
  cmd->callback([args] {
    const Config cfg = begin_stage(*args, "experiment");
    experiment::run_experiment(cfg.experiment, cfg, RunDir(args->run_dir));
  });
}

}  // namespace cxrsynth::cli
