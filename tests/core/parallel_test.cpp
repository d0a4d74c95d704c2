#include "core/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

namespace cxrsynth {

TEST(ParallelFor, EachIndexExactlyOnceForAnyThreadCount) {
  for (int threads : {0, 1, 2, 5, 64}) {
    std::vector<int> hits(1000, 0);
    std::size_t last_progress = 0;
    parallel_for(
        hits.size(), threads, [&](std::size_t i) { hits[i]++; },
        [&](std::size_t done) { last_progress = done; });
    for (int h : hits) ASSERT_EQ(h, 1) << threads;
    EXPECT_EQ(last_progress, hits.size());
  }
}

TEST(ParallelFor, RethrowsTheFailureAfterJoiningAndStopsEarly) {
  std::atomic<int> ran{0};
  EXPECT_THROW(parallel_for(100000, 2,
                            [&](std::size_t i) {
                              ++ran;
                              if (i == 10) throw std::runtime_error("item 10 failed");
                            }),
               std::runtime_error);
  EXPECT_LT(ran.load(), 100000);
}

TEST(ParallelFor, EmptyRangeDoesNothing) {
  parallel_for(0, 4, [](std::size_t) { FAIL(); });
}

}  // namespace cxrsynth
