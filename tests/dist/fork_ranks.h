// Test helper: run a function as rank r of a W-process job in forked children, with RANK,
// WORLD_SIZE, MASTER_ADDR=127.0.0.1, a free MASTER_PORT and CXRSYNTH_DIST_TIMEOUT_S set.
// Each child writes what it threw to <dir>/rank<r>.txt and exits 0 (ok), 1 (Error),
// 2 (UsageError) or 3 (body returned false). The parent never touches the process group.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "dist/launch.h"

namespace cxrsynth::testing {

struct Ranks {
  std::vector<pid_t> pids;
  std::filesystem::path dir;
  std::string output(int rank) const {
    std::ifstream in(dir / ("rank" + std::to_string(rank) + ".txt"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

// world 0 = one process without any of the variables (the one-process reference).
inline Ranks start_ranks(int world, const std::filesystem::path& dir, int timeout_s,
                         const std::function<bool(int)>& body) {
  Ranks r{{}, dir};
  const int port = world > 0 ? dist::free_port() : 0;
  for (int rank = 0; rank < std::max(world, 1); ++rank) {
    const pid_t pid = fork();
    if (pid == 0) {
      if (world > 0) {
        setenv("RANK", std::to_string(rank).c_str(), 1);
        setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
        setenv("MASTER_ADDR", "127.0.0.1", 1);
        setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
        setenv("CXRSYNTH_DIST_TIMEOUT_S", std::to_string(timeout_s).c_str(), 1);
      }
      std::ofstream out(dir / ("rank" + std::to_string(rank) + ".txt"));
      int code = 3;
      try {
        if (body(rank)) code = 0;
      } catch (const UsageError& e) {
        out << e.full_message() << "\n";
        code = 2;
      } catch (const Error& e) {
        out << e.full_message() << "\n";
        code = 1;
      } catch (const std::exception& e) {
        out << e.what() << "\n";
        code = 1;
      }
      out.close();
      _exit(code);
    }
    r.pids.push_back(pid);
  }
  return r;
}

// Exit code of `pid` (128 + signal when killed); -1 when it did not end within timeout_s (it
// is then killed).
inline int wait_rank(pid_t pid, int timeout_s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
  int status = 0;
  pid_t w = 0;
  while ((w = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (w == 0) {
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

inline std::vector<int> wait_all(const Ranks& r, int timeout_s) {
  std::vector<int> codes;
  for (const pid_t pid : r.pids) codes.push_back(wait_rank(pid, timeout_s));
  return codes;
}

}  // namespace cxrsynth::testing
