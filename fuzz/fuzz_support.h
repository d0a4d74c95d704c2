// Shared pieces of the fuzz targets (fuzz/README.md): a scratch file per process, and the
// rule every target follows: a cxrsynth::Error (a clear, named refusal) is a pass; anything
// else escaping (std::exception, cv::Exception, a crash, a sanitizer report, an allocation
// beyond libFuzzer's -rss_limit_mb) is a finding.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace cxrsynth::fuzz {

// A private directory for this process (under /dev/shm when present: no disk traffic).
inline const std::filesystem::path& scratch_dir() {
  // Never destroyed, so the exit handler below can still read it.
  static const std::filesystem::path* dir = [] {
    std::string tmpl = std::filesystem::exists("/dev/shm") ? "/dev/shm/cxrsynth-fuzz-XXXXXX"
                                                           : "/tmp/cxrsynth-fuzz-XXXXXX";
    if (!::mkdtemp(tmpl.data())) std::abort();
    return new std::filesystem::path(tmpl);
  }();
  static const bool cleanup = [] {
    // Removed on a normal exit (libFuzzer's -runs / -max_total_time, the replay driver).
    return std::atexit([] {
             std::error_code ignored;
             std::filesystem::remove_all(*dir, ignored);
           }) == 0;
  }();
  (void)cleanup;
  return *dir;
}

// Writes the input to scratch_dir()/name and returns the path.
inline std::filesystem::path write_scratch(const std::string& name, const std::uint8_t* data,
                                           std::size_t size) {
  const std::filesystem::path p = scratch_dir() / name;
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) std::abort();
  return p;
}

}  // namespace cxrsynth::fuzz
