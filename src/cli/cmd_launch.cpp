// `cxrsynth launch -n N [--master-port P] -- <subcommand ...>`: N local processes of one
// data-parallel job (dist/launch.h), e.g.
//   cxrsynth launch -n 2 -- train-gan --task normal-vs-covid --run-dir R
// Across machines, start one process per rank with torchrun-style variables instead (README).
#include <memory>

#include "cli/common.h"
#include "dist/launch.h"

namespace cxrsynth::cli {

void add_launch_command(CLI::App& app) {
  auto o = std::make_shared<dist::LaunchOptions>();
  auto* cmd = app.add_subcommand(
      "launch",
      "Run a subcommand as N local processes of one data-parallel job (sets RANK, WORLD_SIZE, "
      "LOCAL_RANK, MASTER_ADDR, MASTER_PORT like torchrun; output prefixed [rank r]); if one "
      "fails, the others are stopped");
  cmd->add_option("-n,--nproc", o->processes, "Number of processes")
      ->required()
      ->check(CLI::Range(1, 1024));
  cmd->add_option("--master-port", o->master_port,
                  "Port of rank 0's rendezvous store on 127.0.0.1 (default: a free port)")
      ->check(CLI::Range(1, 65535));
  cmd->add_option("--grace", o->grace_seconds,
                  "Seconds between SIGTERM and SIGKILL for the other ranks after a failure")
      ->check(CLI::Range(0, 3600));
  cmd->add_option("command", o->command, "The subcommand and its arguments, after --")
      ->required()
      ->take_all();
  cmd->callback([o] { dist::launch(*o); });
}

}  // namespace cxrsynth::cli
