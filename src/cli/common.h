// Options every subcommand shares, and the preamble each stage runs before work.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/run_dir.h"

namespace cxrsynth::cli {

struct CommonArgs {
  std::string run_dir;
  std::vector<std::string> configs;  // --config, in order
  std::vector<std::string> sets;     // --set key.path=value, in order
  std::optional<std::int64_t> seed;
  std::optional<int> threads;
  std::optional<std::string> device;
  bool quiet = false;
  bool verbose = false;
};

// Adds --run-dir (required when `needs_run_dir`), --config, --set, --seed, --threads,
// --device, --quiet, --verbose to `cmd`.
void add_common_options(CLI::App& cmd, CommonArgs& args, bool needs_run_dir);

// Resolves defaults < --config files < --set < the --seed/--threads/--device shortcuts,
// and sets the log level.
Config resolve_config(const CommonArgs& args);

// What a stage does before work: resolve the config, create the run directory, write
// config.json and config.diff.txt, attach the JSON-lines log, apply threads (warning on a slow
// BLAS). Returns the resolved config.
Config begin_stage(const CommonArgs& args, const std::string& stage_name);

// Subcommand registration: one function per subcommand, in its own file.
void add_config_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_prepare_command(CLI::App& app);
void add_train_gan_command(CLI::App& app);
void add_synthesize_command(CLI::App& app);
void add_train_classifier_command(CLI::App& app);
void add_evaluate_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_experiment_command(CLI::App& app);
void add_demo_command(CLI::App& app);
void add_audit_command(CLI::App& app);
void add_launch_command(CLI::App& app);

}  // namespace cxrsynth::cli
