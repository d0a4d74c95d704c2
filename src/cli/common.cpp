#include "cli/common.h"

#include "config/config_io.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "core/runtime.h"
#include "dist/env.h"

namespace cxrsynth::cli {

void add_common_options(CLI::App& cmd, CommonArgs& args, bool needs_run_dir) {
  auto* run_dir = cmd.add_option("--run-dir", args.run_dir, "Run directory (created if needed)");
  if (needs_run_dir) run_dir->required();
  cmd.add_option("--config", args.configs, "JSON config file; repeatable, later files win")
      ->check(CLI::ExistingFile)
      ->take_all();
  cmd.add_option("--set", args.sets, "Override one key: key.path=value; repeatable")->take_all();
  cmd.add_option("--seed", args.seed, "Run seed (= --set run.seed=N)");
  cmd.add_option("--threads", args.threads, "CPU threads; 0 = all cores (= --set run.threads=N)");
  cmd.add_option("--device", args.device, "cpu | cuda | cuda:N (= --set run.device=...)");
  cmd.add_flag("-q,--quiet", args.quiet, "Only warnings and errors");
  cmd.add_flag("-v,--verbose", args.verbose, "Debug output");
}

Config resolve_config(const CommonArgs& args) {
  set_log_level(args.quiet ? LogLevel::kQuiet
                           : (args.verbose ? LogLevel::kVerbose : LogLevel::kInfo));
  std::vector<std::string> sets = args.sets;
  if (args.seed) sets.push_back(fmt::format("run.seed={}", *args.seed));
  if (args.threads) sets.push_back(fmt::format("run.threads={}", *args.threads));
  if (args.device) sets.push_back(fmt::format("run.device={}", *args.device));
  Config cfg = config::load(args.configs, sets);
  validate_device_spec(cfg.run.device);
  return cfg;
}

Config begin_stage(const CommonArgs& args, const std::string& stage_name) {
  Config cfg = resolve_config(args);
  select_stage_device(cfg.run.device, stage_name);  // fail early on a bad or unavailable device
  const RunDir run_dir(args.run_dir);
  run_dir.create();
  // config.json / config.diff.txt hold the latest stage's configuration; configs/<stage>.*
  // keep each stage's own, so a later stage run with other options does not erase the record
  // of how earlier outputs were made.
  config::write_resolved(cfg, run_dir);
  write_file_atomic(run_dir.root() / "configs" / (stage_name + ".json"), config::to_json(cfg));
  write_file_atomic(run_dir.root() / "configs" / (stage_name + ".diff.txt"), config::diff(cfg));
  // Data-parallel jobs: rank 0 alone writes the JSON-lines log (every rank prints to stderr).
  if (dist::dist_env().is_main()) set_log_file(run_dir.log_file());
  log_debug("{} started in {}", stage_name, run_dir.root().string());
  const int threads = apply_threads(cfg.run.threads);
  log_debug("{}: {} thread(s), device {}", stage_name, threads, cfg.run.device);
  if (slow_blas_detected()) {
    log_warn(
        "the reference (netlib) BLAS is loaded: transposed convolutions and linear layers "
        "run 17-30x slower; install libopenblas0-openmp (scripts/install_deps.sh)");
  }
  if (const auto w = blas_coretype_warning(); !w.empty()) log_warn("{}", w);
  return cfg;
}

}  // namespace cxrsynth::cli
