#include "dist/launch.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>

#include "core/error.h"
#include "core/log.h"

namespace cxrsynth::dist {

namespace {

struct Child {
  int rank = 0;
  pid_t pid = -1;
  int fd = -1;  // read end of its stdout+stderr pipe; -1 once closed
  bool running = true;
  int status = 0;
  std::string pending;  // partial line
};

std::string describe(int status) {
  if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return fmt::format("was killed by signal {} ({})", WTERMSIG(status),
                       strsignal(WTERMSIG(status)));
  return fmt::format("ended with wait status {}", status);
}

void emit(int rank, const std::string& line) {
  const std::string out = fmt::format("[rank {}] {}\n", rank, line);
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

void drain(Child& c) {
  char buf[65536];
  const ssize_t n = ::read(c.fd, buf, sizeof buf);
  if (n > 0) {
    c.pending.append(buf, static_cast<std::size_t>(n));
    std::size_t nl;
    while ((nl = c.pending.find('\n')) != std::string::npos) {
      emit(c.rank, c.pending.substr(0, nl));
      c.pending.erase(0, nl + 1);
    }
    return;
  }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (!c.pending.empty()) emit(c.rank, c.pending);
  c.pending.clear();
  ::close(c.fd);
  c.fd = -1;
}

}  // namespace

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  CXRSYNTH_CHECK(s >= 0, "launch: socket(): {}", std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const std::string err = std::strerror(errno);
    ::close(s);
    throw Error("launch: cannot find a free TCP port on 127.0.0.1: " + err);
  }
  ::close(s);
  return ntohs(addr.sin_port);
}

void launch(const LaunchOptions& o) {
  if (o.processes < 1)
    throw UsageError(fmt::format("launch -n {}: expected at least 1 process", o.processes));
  if (o.command.empty())
    throw UsageError("launch: no subcommand; usage: cxrsynth launch -n N -- train-gan ...");
  if (o.command.front() == "launch") throw UsageError("launch: cannot launch `launch`");
  char self[4096];
  const ssize_t len = ::readlink("/proc/self/exe", self, sizeof self - 1);
  CXRSYNTH_CHECK(len > 0, "launch: cannot find this executable (/proc/self/exe): {}",
                 std::strerror(errno));
  self[len] = '\0';
  const int port = o.master_port > 0 ? o.master_port : free_port();
  log_info("launch: {} process(es) of `{}` on 127.0.0.1:{}", o.processes, o.command.front(), port);
  std::fflush(stdout);
  std::fflush(stderr);

  std::vector<Child> children(static_cast<std::size_t>(o.processes));
  for (int r = 0; r < o.processes; ++r) {
    int fds[2];
    CXRSYNTH_CHECK(::pipe2(fds, O_CLOEXEC) == 0, "launch: pipe(): {}", std::strerror(errno));
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    CXRSYNTH_CHECK(pid >= 0, "launch: fork(): {}", std::strerror(errno));
    if (pid == 0) {
      // Child: die with the launcher; environment; output into the pipe; exec.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::setenv("RANK", std::to_string(r).c_str(), 1);
      ::setenv("WORLD_SIZE", std::to_string(o.processes).c_str(), 1);
      ::setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      ::setenv("LOCAL_WORLD_SIZE", std::to_string(o.processes).c_str(), 1);
      ::setenv("MASTER_ADDR", "127.0.0.1", 1);
      ::setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      ::dup2(fds[1], STDOUT_FILENO);
      ::dup2(fds[1], STDERR_FILENO);
      std::vector<char*> argv;
      argv.push_back(self);
      for (const auto& a : o.command) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(self, argv.data());
      const std::string msg = fmt::format("launch: exec {}: {}\n", self, std::strerror(errno));
      [[maybe_unused]] const auto w = ::write(STDERR_FILENO, msg.data(), msg.size());
      ::_exit(127);
    }
    ::close(fds[1]);
    children[static_cast<std::size_t>(r)] = Child{r, pid, fds[0], true, 0, ""};
  }

  std::optional<std::size_t> failed;  // the first child that failed
  bool kill_pending = false;          // SIGKILL the survivors at kill_at
  auto kill_at = std::chrono::steady_clock::now();
  auto running = [&] {
    for (const auto& c : children)
      if (c.running || c.fd >= 0) return true;
    return false;
  };
  while (running()) {
    std::vector<pollfd> pfds;
    std::vector<std::size_t> which;
    for (std::size_t i = 0; i < children.size(); ++i)
      if (children[i].fd >= 0) {
        pfds.push_back({children[i].fd, POLLIN, 0});
        which.push_back(i);
      }
    if (!pfds.empty()) {
      const int n = ::poll(pfds.data(), pfds.size(), 100);
      if (n > 0)
        for (std::size_t k = 0; k < pfds.size(); ++k)
          if (pfds[k].revents & (POLLIN | POLLHUP | POLLERR)) drain(children[which[k]]);
    } else {
      ::usleep(20000);
    }
    for (std::size_t i = 0; i < children.size(); ++i) {
      auto& c = children[i];
      if (!c.running) continue;
      int status = 0;
      const pid_t w = ::waitpid(c.pid, &status, WNOHANG);
      if (w != c.pid) continue;
      c.running = false;
      c.status = status;
      const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!ok && !failed) {
        failed = i;
        // Stop the others (a collective would otherwise wait for the dead rank until the
        // timeout); the child's own message is already forwarded.
        std::fprintf(stderr, "launch: rank %d (pid %d) %s; stopping the other ranks\n", c.rank,
                     static_cast<int>(c.pid), describe(status).c_str());
        for (auto& other : children)
          if (other.running) ::kill(other.pid, SIGTERM);
        kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(o.grace_seconds);
        kill_pending = true;
      }
    }
    if (kill_pending && std::chrono::steady_clock::now() >= kill_at) {
      for (auto& c : children)
        if (c.running) ::kill(c.pid, SIGKILL);
      kill_pending = false;
    }
  }
  if (failed) {
    const auto& c = children[*failed];
    const std::string msg = fmt::format(
        "launch: rank {} of {} (pid {}) {}; the other ranks were stopped. Its output above "
        "(prefixed [rank {}]) says why{}",
        c.rank, o.processes, c.pid, describe(c.status), c.rank,
        ". Checkpoints are written atomically: the last one is intact; rerun with --resume");
    if (WIFEXITED(c.status) && WEXITSTATUS(c.status) == 2) throw UsageError(msg);
    throw Error(msg);
  }
  log_info("launch: all {} process(es) finished", o.processes);
}

}  // namespace cxrsynth::dist
