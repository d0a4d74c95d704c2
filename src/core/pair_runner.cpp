#include "core/pair_runner.h"

#include <ATen/Parallel.h>

#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>

namespace cxrsynth {

struct PairRunner::Worker {
  std::mutex mu;
  std::condition_variable cv;
  const std::function<void()>* task = nullptr;  // set by run(), cleared by the worker
  bool done = false;
  bool quit = false;
  bool ready = false;
  std::exception_ptr error;
  std::thread thread;

  explicit Worker(int threads) {
    thread = std::thread([this, threads] {
      // ATen initialises a thread's OpenMP thread count from the process-wide setting on its
      // first parallel call; do that now, then give this thread its own count for good.
      at::internal::lazy_init_num_threads();
      at::set_num_threads(threads);
      std::unique_lock<std::mutex> lock(mu);
      ready = true;
      cv.notify_all();
      for (;;) {
        cv.wait(lock, [this] { return task != nullptr || quit; });
        if (quit) return;
        const auto* fn = task;
        lock.unlock();
        std::exception_ptr e;
        try {
          (*fn)();
        } catch (...) {
          e = std::current_exception();
        }
        lock.lock();
        task = nullptr;
        error = e;
        done = true;
        cv.notify_all();
      }
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [this] { return ready; });
  }

  ~Worker() {
    {
      std::lock_guard<std::mutex> lock(mu);
      quit = true;
    }
    cv.notify_all();
    thread.join();
  }
};

PairRunner::PairRunner(int threads) : threads_(threads) {
  if (side_by_side()) {
    const int caller_threads = threads_;
    worker_ = std::make_unique<Worker>(threads_ / 2);
    // at::set_num_threads also stores the process-wide default that threads starting later
    // begin with: the worker's call (finished: the constructor waits for it) changed it back.
    at::set_num_threads(caller_threads);
  }
}

PairRunner::~PairRunner() = default;

void PairRunner::run(const std::function<void()>& first, const std::function<void()>& second) {
  if (!side_by_side()) {
    first();
    second();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(worker_->mu);
    worker_->task = &first;
    worker_->done = false;
    worker_->error = nullptr;
  }
  worker_->cv.notify_all();
  std::exception_ptr own;
  // (For the duration of `second`, the process-wide default is this half's count too.)
  at::set_num_threads(threads_ - threads_ / 2);
  try {
    second();
  } catch (...) {
    own = std::current_exception();
  }
  at::set_num_threads(threads_);
  std::exception_ptr theirs;
  {
    std::unique_lock<std::mutex> lock(worker_->mu);
    worker_->cv.wait(lock, [this] { return worker_->done; });
    theirs = worker_->error;
  }
  if (theirs) std::rethrow_exception(theirs);
  if (own) std::rethrow_exception(own);
}

}  // namespace cxrsynth
