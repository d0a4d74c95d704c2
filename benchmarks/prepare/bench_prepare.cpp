// Prepare throughput: decode + resize + PNG write + SHA-256 of each file on THREADS threads,
// as `cxrsynth prepare` does per image (process_candidates, including its final syncfs).
// Compared with prepare_reference.py (pydicom + Pillow) on the same files by run.sh, which
// prints the ratio.
//
// Usage: bench_prepare OUT_DIR IMAGE_SIZE REPEATS THREADS FILE...
// Prints "cxrsynth: N images, median S s, R images/s, cpu C ms/image" (C: user + system CPU
// time of the process per image, median of the passes: unlike wall time it hardly moves with
// the load of a shared machine).
#include <sys/resource.h>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "data/preprocess.h"

int main(int argc, char** argv) {
  using namespace cxrsynth;
  if (argc < 6) {
    std::fprintf(stderr, "usage: bench_prepare OUT_DIR IMAGE_SIZE REPEATS THREADS FILE...\n");
    return 2;
  }
  set_log_level(LogLevel::kQuiet);
  const std::filesystem::path out = argv[1];
  const int size = std::atoi(argv[2]);
  const int repeats = std::max(1, std::atoi(argv[3]));
  const int threads = std::max(1, std::atoi(argv[4]));
  std::vector<data::Candidate> candidates;
  for (int i = 5; i < argc; ++i) {
    data::Candidate c;
    c.file = argv[i];
    c.row.id = "b" + std::to_string(i);
    candidates.push_back(c);
  }
  const auto cpu_seconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
  };
  std::vector<double> times, cpu;
  for (int r = 0; r < repeats; ++r) {
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const auto results = data::process_candidates(candidates, size, out, threads);
    const auto t1 = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < results.size(); ++i) {
      if (!results[i].ok) {
        std::fprintf(stderr, "%s\n", results[i].error.c_str());
        return 1;
      }
    }
    times.push_back(std::chrono::duration<double>(t1 - t0).count());
    cpu.push_back(cpu_seconds() - c0);
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu.begin(), cpu.end());
  const double median = times[times.size() / 2];
  const double n = static_cast<double>(candidates.size());
  std::printf("cxrsynth: %zu images, median %.3f s, %.1f images/s, cpu %.2f ms/image\n",
              candidates.size(), median, n / median, 1000.0 * cpu[cpu.size() / 2] / n);
  return 0;
}
