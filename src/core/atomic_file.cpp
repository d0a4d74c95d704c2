#include "core/atomic_file.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace cxrsynth {
namespace {

fs::path temp_name_for(const fs::path& path) {
  static std::atomic<unsigned> counter{0};
  // Same directory (rename is atomic only within a file system); same extension so writers
  // that pick a format by extension (OpenCV) still work.
  const std::string stem = path.stem().string();
  return path.parent_path() / fmt::format(".{}.tmp{}-{}{}", stem, static_cast<long>(::getpid()),
                                          counter++, path.extension().string());
}

void fsync_path(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

// The written file must reach the disk before it replaces the old one: on a full disk with
// delayed allocation, fsync is where ENOSPC shows up.
void fsync_file_or_throw(const fs::path& p) {
  const int fd = ::open(p.c_str(), O_RDONLY);
  if (fd < 0)
    throw Error(fmt::format("cannot reopen {} to sync it: {}", p.string(), std::strerror(errno)));
  if (::fsync(fd) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd);
    throw Error(fmt::format("cannot sync {} to disk (disk full?): {}", p.string(), why));
  }
  ::close(fd);
}

void ensure_parent(const fs::path& path) {
  if (path.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      throw Error(
          fmt::format("cannot create directory {}: {}", path.parent_path().string(), ec.message()));
    }
  }
}

// Fault injection (scripts/fault_inject.py --every-write): with CXRSYNTH_KILL_AFTER_WRITES=N in
// the environment the process SIGKILLs itself right after its N-th atomic write is in place, so
// that every gap between two outputs can be tested as a crash point. Unset: never.
void kill_point_after_write() {
  static const long limit = [] {
    const char* v = std::getenv("CXRSYNTH_KILL_AFTER_WRITES");
    return v ? std::strtol(v, nullptr, 10) : 0L;
  }();
  static std::atomic<long> writes{0};
  if (limit > 0 && ++writes == limit) std::raise(SIGKILL);
}

}  // namespace

void replace_file_atomic(const fs::path& path, const std::function<void(const fs::path&)>& writer) {
  ensure_parent(path);
  const fs::path tmp = temp_name_for(path);
  try {
    writer(tmp);
    if (!fs::exists(tmp)) throw Error("the writer produced no file");
    fsync_file_or_throw(tmp);
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) throw Error(fmt::format("rename failed: {}", ec.message()));
    if (path.has_parent_path()) fsync_path(path.parent_path());
    kill_point_after_write();
  } catch (Error& e) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    e.with_context(fmt::format("cannot write {}", path.string()));
    throw;
  } catch (const std::exception& e) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    Error wrapped(e.what());
    wrapped.with_context(fmt::format("cannot write {}", path.string()));
    throw wrapped;
  }
}

void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& writer) {
  replace_file_atomic(path, [&](const fs::path& tmp) {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(fmt::format("cannot open {}: {}", tmp.string(), std::strerror(errno)));
    writer(out);
    out.flush();
    if (!out) throw Error(fmt::format("write error (disk full?): {}", std::strerror(errno)));
    out.close();
    if (out.fail()) throw Error(fmt::format("close failed: {}", std::strerror(errno)));
  });
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
  });
}

int remove_stale_temp_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name[0] != '.') continue;
    const auto pos = name.rfind(".tmp");
    if (pos == std::string::npos) continue;
    char* end = nullptr;
    const long pid = std::strtol(name.c_str() + pos + 4, &end, 10);
    if (pid <= 0 || end == nullptr || *end != '-') continue;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) {
      std::error_code ignored;
      if (fs::remove(e.path(), ignored)) ++removed;
    }
  }
  return removed;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw Error(fmt::format("cannot open {}: {}", path.string(),
                            fs::exists(path) ? std::strerror(errno) : "no such file"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw Error(fmt::format("cannot read {}", path.string()));
  return ss.str();
}

}  // namespace cxrsynth
