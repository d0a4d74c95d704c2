// `cxrsynth demo [--run-dir R]` (default R = runs/demo): the README's main command. The whole
// method on built-in phantoms in a few minutes on 2 CPU cores: configs/demo.json (read before
// any --config/--set) -> prepare -> both CycleGANs -> G_NC and G_PC -> the experiment grid ->
// the translation check and an honest verdict (experiment/demo.h) -> `cxrsynth report`.
// Rerunning reuses everything already finished in R.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/common.h"
#include "config/config_io.h"
#include "core/error.h"
#include "core/log.h"
#include "core/runtime.h"
#include "experiment/demo.h"

extern char** environ;

#ifndef CXRSYNTH_DEMO_CONFIG
#error "CXRSYNTH_DEMO_CONFIG (the repository's configs/demo.json) must be defined by CMake"
#endif

namespace cxrsynth::cli {
namespace {

namespace fs = std::filesystem;

// The demo preset: $CXRSYNTH_DEMO_CONFIG, else the source tree's configs/demo.json.
std::string demo_config_path() {
  const char* env = std::getenv("CXRSYNTH_DEMO_CONFIG");
  const std::string path = (env != nullptr && *env != '\0') ? env : CXRSYNTH_DEMO_CONFIG;
  if (!fs::is_regular_file(path)) {
    throw UsageError(
        fmt::format("demo preset {} not found; set CXRSYNTH_DEMO_CONFIG to the repository's "
                    "configs/demo.json",
                    path));
  }
  return path;
}

pid_t spawn_self(std::vector<std::string> args) {
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    throw Error(fmt::format("cannot start `cxrsynth {}` (/proc/self/exe): {}", args.at(1),
                            std::strerror(rc)));
  }
  return pid;
}

// True when the child exited with status 0.
bool wait_ok(pid_t pid, const std::string& what) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Error(fmt::format("waiting for {}: {}", what, std::strerror(errno)));
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// Renders the report by running this executable's own `report` subcommand (cmd_report.cpp), so
// the demo's report is exactly what `cxrsynth report --run-dir R` writes.
void render_report(const RunDir& run_dir) {
  const auto pid = spawn_self({"cxrsynth", "report", "--run-dir", run_dir.root().string()});
  if (!wait_ok(pid, "`cxrsynth report`")) {
    throw Error(
        fmt::format("`cxrsynth report --run-dir {}` failed (its message is above); the "
                    "demo's results are in {}",
                    run_dir.root().string(), (run_dir.root() / "experiment").string()));
  }
}

// Trains the CycleGANs of `tasks` side by side, one `cxrsynth train-gan` child process each,
// the demo's threads split between them. A CycleGAN step at batch 1 on 64 px images keeps two
// cores only partly busy, so two one-thread runs side by side finish sooner than two two-thread
// runs one after the other (docs/DEMO.md). Each child is deterministic for its thread count.
void train_gans_side_by_side(const std::vector<std::string>& tasks, const Config& cfg,
                             const RunDir& run_dir) {
  const auto config_file = run_dir.root() / "configs" / "demo.json";
  const int total = apply_threads(cfg.run.threads);
  const int each = std::max(1, total / static_cast<int>(tasks.size()));
  std::vector<pid_t> pids;
  for (const auto& task : tasks) {
    std::vector<std::string> args = {
        "cxrsynth",  "train-gan",          "--run-dir", run_dir.root().string(),
        "--config",  config_file.string(), "--task",    task,
        "--threads", std::to_string(each)};
    if (fs::exists(run_dir.gan_dir(task) / "checkpoint.pt")) args.push_back("--resume");
    log_info("demo: training the {} CycleGAN in a child process ({} thread{})", task, each,
             each == 1 ? "" : "s");
    pids.push_back(spawn_self(args));
  }
  std::vector<std::string> failed;
  for (std::size_t i = 0; i < pids.size(); ++i)
    if (!wait_ok(pids[i], "`cxrsynth train-gan`")) failed.push_back(tasks[i]);
  // The children recorded their own stage as the latest configuration; the demo's is the record.
  config::write_resolved(cfg, run_dir);
  if (!failed.empty()) {
    throw Error(
        fmt::format("`cxrsynth train-gan` failed for {} (its message is above); rerun "
                    "`cxrsynth demo --run-dir {}` to resume",
                    fmt::join(failed, ", "), run_dir.root().string()));
  }
}

}  // namespace

void add_demo_command(CLI::App& app) {
  auto args = std::make_shared<CommonArgs>();
  auto* cmd = app.add_subcommand(
      "demo",
      "The whole method on built-in phantom data in a few minutes (configs/demo.json): phantom "
      "data with a skewed COVID-19 class, both CycleGANs, G_NC and G_PC, the experiment grid, "
      "the report; prints both tables, the verdict and the report's path");
  add_common_options(*cmd, *args, /*needs_run_dir=*/false);
  cmd->callback([args] {
    if (args->run_dir.empty()) args->run_dir = "runs/demo";
    args->configs.insert(args->configs.begin(), demo_config_path());
    const Config cfg = begin_stage(*args, "demo");
    const RunDir run_dir(args->run_dir);
    experiment::run_demo(cfg, run_dir, [&](const std::vector<std::string>& tasks) {
      train_gans_side_by_side(tasks, cfg, run_dir);
    });
    render_report(run_dir);
    std::cout << "\nReport: " << fs::absolute(run_dir.report_dir() / "index.html").string()
              << "\nTables: " << fs::absolute(run_dir.root() / "experiment" / "tables.md").string()
              << "\n";
  });
}

}  // namespace cxrsynth::cli
