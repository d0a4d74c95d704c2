// Atomic file writes: write to a temporary file beside the target, flush and fsync, then
// rename over the target. A failed or interrupted write leaves the previous file intact.
#pragma once

#include <filesystem>
#include <functional>
#include <iosfwd>
#include <string>
#include <string_view>

namespace cxrsynth {

namespace fs = std::filesystem;

// Writes `content` to `path` atomically. Creates parent directories. Throws cxrsynth::Error
// naming the path on any failure (full disk included); the old file is untouched then.
void write_file_atomic(const fs::path& path, std::string_view content);

// Streams into `path` atomically through `writer`.
void write_file_atomic(const fs::path& path, const std::function<void(std::ostream&)>& writer);

// For writers that need a file name (torch::save, cv::imwrite): `writer(tmp)` must create
// `tmp`; it is then fsynced and renamed to `path`. `tmp` keeps `path`'s extension.
void replace_file_atomic(const fs::path& path, const std::function<void(const fs::path&)>& writer);

// Removes the temporary files of atomic writes into `dir` (".<stem>.tmp<pid>-<n><ext>", not
// recursive) whose process no longer runs: a SIGKILL mid-write leaves one behind, and for a
// checkpoint it can be large. Files of live processes (a concurrent shard or rank) are kept.
// Returns how many were removed.
int remove_stale_temp_files(const fs::path& dir);

// Reads a whole file; throws naming the path when it cannot.
std::string read_file(const fs::path& path);

}  // namespace cxrsynth
