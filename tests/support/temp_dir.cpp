#include "support/temp_dir.h"

#include "core/error.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

namespace cxrsynth::testing {

TempDir::TempDir() {
  std::random_device rd;
  for (int attempt = 0; attempt < 100; ++attempt) {
    auto p = fs::temp_directory_path() /
             ("cxrsynth-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::error_code ec;
    if (fs::create_directory(p, ec)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

void write_text(const fs::path& path, const std::string& text) {
  if (path.has_parent_path()) fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out << text;
}

fs::path source_dir() {
  const char* env = std::getenv("CXRSYNTH_SOURCE_DIR");
  return env ? fs::path(env) : fs::path(CXRSYNTH_DEFAULT_SOURCE_DIR);
}

std::optional<fs::path> shared_data(const std::string& sub) {
  fs::path base;
  if (const char* env = std::getenv("CXRSYNTH_SHARED_DATA")) {
    base = env;
  } else {
    base = source_dir() / ".." / "shared" / "data";
  }
  const fs::path p = base / sub;
  if (fs::exists(p)) return fs::canonical(p);
  return std::nullopt;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.full_message();
  }
  return "";
}

CommandResult run_cli(const std::string& args) {
  const char* bin = std::getenv("CXRSYNTH_BINARY");
  const std::string cmd = std::string(bin ? bin : CXRSYNTH_DEFAULT_BINARY) + " " + args + " 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (!pipe) throw std::runtime_error("popen failed: " + cmd);
  std::string output;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, output};
}

}  // namespace cxrsynth::testing
