// A deterministic parallel loop for independent work items: each index runs exactly once and
// writes only its own result slot, so outputs do not depend on scheduling or thread count.
#pragma once

#include <cstddef>
#include <functional>

namespace cxrsynth {

// Runs fn(i) for every i in [0, n) on up to `threads` threads (<= 0: one per hardware
// thread), the calling thread included. `on_progress(done)`, when given, is called on the
// calling thread after each item it finishes. The first exception stops the remaining items and
// is rethrown after every thread has joined.
void parallel_for(std::size_t n, int threads, const std::function<void(std::size_t)>& fn,
                  const std::function<void(std::size_t)>& on_progress = {});

}  // namespace cxrsynth
