// Two independent pieces of tensor work at once, each on half of the intra-op threads.
//
// Small convolutions (a CycleGAN at 64-128 px with 16-32 filters, batch 1) scale badly across
// OpenMP threads: each operation is too short for two threads to share well. The two directions
// of a CycleGAN step (a -> b -> a and b -> a -> b) are independent until their gradients meet in
// the shared weights, so running them side by side with one intra-op thread each keeps both
// cores busy (benchmarks/README.md, P1). Work that cannot be split keeps every thread.
//
// Determinism: each half always runs with the same thread count (threads / 2 and the rest), so
// its kernels give the same bits every time. Where both halves add a gradient into the same
// weight (.grad), the sum has exactly two terms, and a + b == b + a in floating point, so the
// order in which the halves finish does not change the result.
#pragma once

#include <functional>
#include <memory>

namespace cxrsynth {

class PairRunner {
 public:
  // `threads`: the caller's intra-op thread count (at::get_num_threads()). Below 2 the halves
  // run one after the other on the calling thread (same results as side by side only up to
  // the kernels' own thread-count dependence).
  explicit PairRunner(int threads);
  ~PairRunner();
  PairRunner(const PairRunner&) = delete;
  PairRunner& operator=(const PairRunner&) = delete;

  bool side_by_side() const { return threads_ >= 2; }

  // Runs `first` on a worker thread and `second` on the calling thread (or both in order on
  // the calling thread); returns when both have finished. An exception from either is
  // rethrown after both finished (the first one's, when both throw). The caller's intra-op
  // thread count is restored afterwards.
  void run(const std::function<void()>& first, const std::function<void()>& second);

 private:
  struct Worker;
  int threads_;
  std::unique_ptr<Worker> worker_;
};

}  // namespace cxrsynth
