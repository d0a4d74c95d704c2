#include "core/parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace cxrsynth {

void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& fn,
                  const std::function<void(std::size_t)>& on_progress) {
  if (n == 0) return;
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const auto n_threads = std::min<std::size_t>(static_cast<std::size_t>(threads), n);

  std::atomic<std::size_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto work = [&](bool report) {
    try {
      for (std::size_t i = next++; i < n && !failed; i = next++) {
        fn(i);
        const std::size_t d = ++done;
        if (report && on_progress) on_progress(d);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < n_threads; ++t) pool.emplace_back(work, false);
  work(true);
  for (auto& th : pool) th.join();
  if (first_error) std::rethrow_exception(first_error);
  if (on_progress) on_progress(done.load());
}

}  // namespace cxrsynth
