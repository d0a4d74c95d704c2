// Progress for long work: on a terminal a bar with count, rate and ETA redrawn in place;
// otherwise (logs, CI) one line at most every `interval_s` seconds and one at the end.
// Silent at LogLevel::kQuiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace cxrsynth {

struct ProgressOptions {
  double interval_s = 10.0;  // non-terminal line period; Source: ours
  std::string unit = "it";
};

class Progress {
 public:
  Progress(std::string label, std::int64_t total, ProgressOptions options = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Sets the count done so far; `status` is shown after the numbers ("loss_g 0.41").
  void update(std::int64_t done, std::string_view status = {});
  void tick(std::string_view status = {}) { update(done_ + 1, status); }
  void finish(std::string_view status = {});
  // Work resumed part way: rate and ETA count only what is done from here.
  void resume_from(std::int64_t done);

  // Seconds left at the current rate (negative when unknown).
  double eta_seconds() const;

 private:
  void draw(bool final_line);
  std::string label_;
  std::int64_t total_;
  std::int64_t done_ = 0;
  std::int64_t start_done_ = 0;
  ProgressOptions options_;
  std::string status_;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

std::string format_duration(double seconds);

}  // namespace cxrsynth
