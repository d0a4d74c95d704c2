// Logging: human lines to stderr and, when a run directory sets one, machine-readable JSON
// lines (one object per event) to a log file. The level is process-wide: set once by the CLI.
#pragma once

#include <fmt/format.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace cxrsynth {

enum class LogLevel { kQuiet = 0, kInfo = 1, kVerbose = 2 };

void set_log_level(LogLevel level);
LogLevel log_level();

// Appends JSON lines ({"time":..., "level":..., "message":...}) to `path` from now on;
// an empty path turns it off.
void set_log_file(const std::filesystem::path& path);

void log_message(std::string_view level, std::string_view message);

template <class... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() >= LogLevel::kInfo)
    log_message("info", fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
  log_message("warning", fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void log_debug(fmt::format_string<Args...> f, Args&&... args) {
  if (log_level() >= LogLevel::kVerbose)
    log_message("debug", fmt::format(f, std::forward<Args>(args)...));
}

// Escapes a string for a JSON string literal (no surrounding quotes).
std::string json_escape(std::string_view s);

}  // namespace cxrsynth
