#include "core/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "core/log.h"

namespace cxrsynth {

std::string format_duration(double seconds) {
  if (seconds < 0) return "?";
  const auto s = static_cast<long long>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02d}s", s / 60, static_cast<int>(s % 60));
  return fmt::format("{}h{:02d}m", s / 3600, static_cast<int>((s % 3600) / 60));
}

Progress::Progress(std::string label, std::int64_t total, ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      options_(std::move(options)),
      tty_(::isatty(STDERR_FILENO) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() {
  if (!finished_ && done_ > 0 && tty_ && log_level() != LogLevel::kQuiet) std::fputc('\n', stderr);
}

void Progress::resume_from(std::int64_t done) {
  done_ = done;
  start_done_ = done;
}

double Progress::eta_seconds() const {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const auto done = done_ - start_done_;
  if (done <= 0 || total_ <= 0) return -1;
  return elapsed / static_cast<double>(done) * static_cast<double>(total_ - done_);
}

void Progress::update(std::int64_t done, std::string_view status) {
  done_ = done;
  if (!status.empty()) status_ = std::string(status);
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  const double period = tty_ ? 0.2 : options_.interval_s;
  if (since >= period) {
    last_draw_ = now;
    draw(false);
  }
}

void Progress::finish(std::string_view status) {
  if (finished_) return;
  if (!status.empty()) status_ = std::string(status);
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final_line) {
  if (log_level() == LogLevel::kQuiet) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_ - start_done_) / elapsed : 0.0;
  std::string counts = total_ > 0 ? fmt::format("{}/{}", done_, total_) : fmt::format("{}", done_);
  std::string timing =
      final_line
          ? fmt::format("{:.2f} {}/s, {}", rate, options_.unit, format_duration(elapsed))
          : fmt::format("{:.2f} {}/s, ETA {}", rate, options_.unit, format_duration(eta_seconds()));
  std::string bar;
  if (tty_ && total_ > 0) {
    const int width = 24;
    const int filled = static_cast<int>(width * static_cast<double>(done_) / total_);
    bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
  }
  const std::string line = fmt::format("{} {}{} ({}){}{}", label_, bar, counts, timing,
                                       status_.empty() ? "" : "  ", status_);
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s%s", line.c_str(), final_line ? "\n" : "");
    std::fflush(stderr);
  } else {
    log_message("progress", line);
  }
}

}  // namespace cxrsynth
