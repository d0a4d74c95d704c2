#include "core/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <mutex>

namespace cxrsynth {
namespace {

struct LogState {
  std::mutex mutex;
  LogLevel level = LogLevel::kInfo;
  std::ofstream file;
};

LogState& state() {
  static LogState s;
  return s;
}

std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

}  // namespace

void set_log_level(LogLevel level) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().level = level;
}

LogLevel log_level() {
  return state().level;
}

void set_log_file(const std::filesystem::path& path) {
  std::lock_guard<std::mutex> lock(state().mutex);
  auto& s = state();
  if (s.file.is_open()) s.file.close();
  if (!path.empty()) {
    std::filesystem::create_directories(path.parent_path());
    s.file.open(path, std::ios::app);
  }
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out;
}

void log_message(std::string_view level, std::string_view message) {
  std::lock_guard<std::mutex> lock(state().mutex);
  auto& s = state();
  if (level == "warning") {
    std::fprintf(stderr, "warning: %.*s\n", static_cast<int>(message.size()), message.data());
  } else {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(message.size()), message.data());
  }
  std::fflush(stderr);
  if (s.file.is_open()) {
    s.file << fmt::format("{{\"time\":\"{}\",\"level\":\"{}\",\"message\":\"{}\"}}\n", timestamp(),
                          level, json_escape(message));
    s.file.flush();
  }
}

}  // namespace cxrsynth
