// Test helpers: temporary directories, the shared real-data folder, running the CLI.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace cxrsynth::testing {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

void write_text(const fs::path& path, const std::string& text);

// ../shared/data (or $CXRSYNTH_SHARED_DATA) when present; tests skip without it:
//   auto dir = shared_data("rsna-sample"); if (!dir) GTEST_SKIP() << "...";
std::optional<fs::path> shared_data(const std::string& sub);

// The repository root ($CXRSYNTH_SOURCE_DIR, else the configured source dir).
fs::path source_dir();

// The full message of the cxrsynth::Error `fn` throws ("" when it throws none).
std::string message_of(const std::function<void()>& fn);

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

// Runs the built cxrsynth binary with `args` (a shell-quoted string).
CommandResult run_cli(const std::string& args);

}  // namespace cxrsynth::testing
