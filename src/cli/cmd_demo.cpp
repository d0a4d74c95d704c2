// `cxrsynth demo [--run-dir R]` (default R = runs/demo): the README's main command. The whole
// method on built-in phantoms in a few minutes on 2 CPU cores: configs/demo.json (read before
// any --config/--set) -> prepare -> both CycleGANs -> G_NC and G_PC -> the experiment grid ->
// the translation check and an honest verdict (experiment/demo.h) -> `cxrsynth report`.
// Rerunning reuses everything already finished in R.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/common.h"
#include "core/error.h"
#include "core/log.h"
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

// Renders the report by running this executable's own `report` subcommand (cmd_report.cpp), so
// the demo's report is exactly what `cxrsynth report --run-dir R` writes.
void render_report(const RunDir& run_dir) {
  std::vector<std::string> args = {"cxrsynth", "report", "--run-dir", run_dir.root().string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    throw Error(
        fmt::format("cannot start `cxrsynth report` (/proc/self/exe): {}", std::strerror(rc)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      throw Error(fmt::format("waiting for `cxrsynth report`: {}", std::strerror(errno)));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw Error(
        fmt::format("`cxrsynth report --run-dir {}` failed (its message is above); the "
                    "demo's results are in {}",
                    run_dir.root().string(), (run_dir.root() / "experiment").string()));
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
    experiment::run_demo(cfg, run_dir);
    render_report(run_dir);
    std::cout << "\nReport: " << fs::absolute(run_dir.report_dir() / "index.html").string()
              << "\nTables: " << fs::absolute(run_dir.root() / "experiment" / "tables.md").string()
              << "\n";
  });
}

}  // namespace cxrsynth::cli
