// `cxrsynth launch -n N -- <subcommand ...>`: N local processes of this binary as one
// data-parallel job (torch-free). Each child gets RANK, WORLD_SIZE, LOCAL_RANK,
// LOCAL_WORLD_SIZE, MASTER_ADDR=127.0.0.1 and MASTER_PORT, the variables torchrun sets;
// its stdout and stderr are forwarded line by line with a "[rank r] " prefix. When a child
// exits with a non-zero status or a signal, the others get SIGTERM (SIGKILL after a grace
// period) and launch fails naming that rank and its status. Children die with the launcher
// (PR_SET_PDEATHSIG).
#pragma once

#include <string>
#include <vector>

namespace cxrsynth::dist {

struct LaunchOptions {
  int processes = 1;
  int master_port = 0;               // 0 = a free port found by binding port 0
  std::vector<std::string> command;  // the subcommand and its arguments
  int grace_seconds = 10;            // SIGTERM -> SIGKILL
};

// Returns when all children exited with status 0; throws Error (UsageError when the failing
// child exited with status 2, a usage error) otherwise.
void launch(const LaunchOptions& options);

// A TCP port on 127.0.0.1 that was free a moment ago.
int free_port();

}  // namespace cxrsynth::dist
