// Strict JSON configuration: loading (defaults < files < --set), printing and recording.
// The only code that knows how configs are spelled in JSON.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/run_dir.h"

namespace cxrsynth::config {

// Applies a JSON document (an object) onto `cfg`. Unknown keys, wrong types and out-of-range
// values throw UsageError naming the key path (and listing the valid keys at that level).
// `origin` names the document in messages ("configs/paper.json", "--set").
void apply_json_text(Config& cfg, const std::string& json_text, const std::string& origin);
void apply_file(Config& cfg, const std::filesystem::path& path);
// "gan.lambda_cycle=5", "data.sources=cohen,rsna" (lists: JSON array or comma-separated).
void apply_set(Config& cfg, const std::string& assignment);

Config load(const std::vector<std::string>& files, const std::vector<std::string>& sets);

// The resolved configuration as pretty JSON (every key, in declaration order).
std::string to_json(const Config& cfg);

// One line per key: `path = value` with `[default: X]` after values that differ from the
// defaults; with `with_docs`, the doc and source as a trailing comment.
std::string show(const Config& cfg, bool with_docs);

// Only the non-default keys, `path = value  [default: X]`; "(all defaults)" when none.
std::string diff(const Config& cfg);

// Writes config.json and config.diff.txt into the run directory (atomically).
void write_resolved(const Config& cfg, const RunDir& run_dir);

// Reads a section back as JSON text (for hashing options into checkpoints).
std::string section_json(const Config& cfg, const std::string& section);

}  // namespace cxrsynth::config
