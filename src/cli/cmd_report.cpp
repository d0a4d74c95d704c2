// `cxrsynth report --run-dir R`: R/report/index.html, report.md and figures/*.png from the run's
// files, drawn by the Python renderer in <repo>/report/cxrsynth_report (matplotlib, umap-learn).
//
// The renderer runs as `$CXRSYNTH_PYTHON -m cxrsynth_report --run-dir R` (default
// /usr/bin/python3, Debian's interpreter with python3-matplotlib and umap-learn) with PYTHONPATH
// pointing at $CXRSYNTH_REPORT_DIR (default: the source tree's report/). Its messages go straight
// to the terminal; a non-zero exit becomes a cxrsynth error with the same meaning (2 usage, else
// 1).
//
// Unlike the stages, this command does not call begin_stage: rewriting R/config.json with the
// report's (default) configuration would erase the record of how the run was made.
#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "core/error.h"
#include "core/log.h"
#include "core/run_dir.h"

extern char** environ;

#ifndef CXRSYNTH_REPORT_DEFAULT_DIR
#error "CXRSYNTH_REPORT_DEFAULT_DIR (the repository's report/ folder) must be defined by CMake"
#endif

namespace cxrsynth::cli {

namespace {

namespace fs = std::filesystem;

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? std::string(v) : fallback;
}

// The folder that holds cxrsynth_report/; throws naming it and the override when absent.
fs::path report_package_dir() {
  const fs::path dir = env_or("CXRSYNTH_REPORT_DIR", CXRSYNTH_REPORT_DEFAULT_DIR);
  const fs::path main_py = dir / "cxrsynth_report" / "__main__.py";
  if (!fs::is_regular_file(main_py)) {
    throw Error(
        fmt::format("report renderer not found: {} does not exist; set CXRSYNTH_REPORT_DIR to the "
                    "repository's report/ folder (the one holding cxrsynth_report/)",
                    main_py.string()));
  }
  return dir;
}

// This process's environment with PYTHONPATH led by `dir` and no bytecode written into the
// source tree.
std::vector<std::string> child_environment(const fs::path& dir) {
  std::vector<std::string> env;
  std::string pythonpath = dir.string();
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    if (kv.rfind("PYTHONPATH=", 0) == 0) {
      const std::string old = kv.substr(std::strlen("PYTHONPATH="));
      if (!old.empty()) pythonpath += ":" + old;
    } else if (kv.rfind("PYTHONDONTWRITEBYTECODE=", 0) != 0) {
      env.push_back(kv);
    }
  }
  env.push_back("PYTHONPATH=" + pythonpath);
  env.push_back("PYTHONDONTWRITEBYTECODE=1");
  return env;
}

// Runs argv[0] (a path, or a name looked up on PATH) and returns its wait status.
int spawn_and_wait(const std::vector<std::string>& args, const std::vector<std::string>& env) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = 0;
  const bool has_slash = args[0].find('/') != std::string::npos;
  const int rc = has_slash
                     ? posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data())
                     : posix_spawnp(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data());
  if (rc != 0) {
    throw Error(fmt::format(
        "cannot start the report renderer's Python '{}': {}; install Debian's python3, "
        "python3-matplotlib and umap-learn (scripts/install_deps.sh) or set CXRSYNTH_PYTHON "
        "to an interpreter that has them",
        args[0], std::strerror(rc)));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw Error(
          fmt::format("waiting for the report renderer (pid {}): {}", pid, std::strerror(errno)));
    }
  }
  return status;
}

void run_report(const RunDir& run_dir) {
  const fs::path root = run_dir.root();
  if (!fs::is_directory(root)) {
    throw UsageError(
        fmt::format("--run-dir '{}': no such directory (run a stage first, e.g. "
                    "`cxrsynth prepare --run-dir {}`)",
                    root.string(), root.string()));
  }
  const std::string python = env_or("CXRSYNTH_PYTHON", "/usr/bin/python3");
  const fs::path package_dir = report_package_dir();
  const std::vector<std::string> args = {python, "-m", "cxrsynth_report", "--run-dir",
                                         root.string()};
  log_info("report: rendering {} with {} (renderer in {})", run_dir.report_dir().string(), python,
           package_dir.string());
  const int status = spawn_and_wait(args, child_environment(package_dir));
  const std::string command =
      fmt::format("{} -m cxrsynth_report --run-dir {}", python, root.string());
  if (WIFSIGNALED(status)) {
    throw Error(
        fmt::format("the report renderer ({}) was killed by signal {}", command, WTERMSIG(status)));
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  if (code == 2) {
    throw UsageError(fmt::format(
        "the report renderer ({}) rejected its arguments (exit status 2); its message is above",
        command));
  }
  if (code != 0) {
    throw Error(
        fmt::format("the report renderer ({}) failed with exit status {}; its message is above",
                    command, code));
  }
}

}  // namespace

void add_report_command(CLI::App& app) {
  struct Args {
    std::string run_dir;
    bool quiet = false;
    bool verbose = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand(
      "report",
      "Write R/report/index.html, report.md and figures/*.png from the run's files "
      "(Python renderer: python3-matplotlib, umap-learn)");
  cmd->add_option("--run-dir", args->run_dir, "Run directory to report on")->required();
  cmd->add_flag("-q,--quiet", args->quiet, "Only warnings and errors");
  cmd->add_flag("-v,--verbose", args->verbose, "Debug output");
  cmd->callback([args] {
    set_log_level(args->quiet ? LogLevel::kQuiet
                              : (args->verbose ? LogLevel::kVerbose : LogLevel::kInfo));
    run_report(RunDir(args->run_dir));
  });
}

}  // namespace cxrsynth::cli
