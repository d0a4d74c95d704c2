// PairRunner: both halves run, at once and each on its share of the intra-op threads; the
// caller's thread count is restored; exceptions reach the caller after both halves finished.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

#include "core/pair_runner.h"

namespace cxrsynth {
namespace {

class PairRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = at::get_num_threads(); }
  void TearDown() override { at::set_num_threads(saved_); }
  int saved_ = 1;
};

TEST_F(PairRunnerTest, SplitsTheThreadsAndRunsTheHalvesAtOnce) {
  at::set_num_threads(4);
  PairRunner pair(4);
  ASSERT_TRUE(pair.side_by_side());
  for (int round = 0; round < 3; ++round) {
    int first_threads = 0, second_threads = 0;
    std::thread::id first_id, second_id;
    // Each half waits for the other to start: this only finishes when they run concurrently.
    std::atomic<int> started{0};
    auto meet = [&] {
      ++started;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (started.load() < 2 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
      return started.load() == 2;
    };
    bool first_met = false, second_met = false;
    pair.run(
        [&] {
          first_threads = at::get_num_threads();
          first_id = std::this_thread::get_id();
          first_met = meet();
        },
        [&] {
          second_threads = at::get_num_threads();
          second_id = std::this_thread::get_id();
          second_met = meet();
        });
    EXPECT_TRUE(first_met && second_met);
    EXPECT_EQ(first_threads, 2);
    EXPECT_EQ(second_threads, 2);
    EXPECT_NE(first_id, second_id);
    EXPECT_EQ(second_id, std::this_thread::get_id());
    EXPECT_EQ(at::get_num_threads(), 4);  // restored
  }
}

TEST_F(PairRunnerTest, OddThreadCountsAndOneThread) {
  at::set_num_threads(3);
  PairRunner three(3);
  int a = 0, b = 0;
  three.run([&] { a = at::get_num_threads(); }, [&] { b = at::get_num_threads(); });
  EXPECT_EQ(a + b, 3);
  EXPECT_EQ(at::get_num_threads(), 3);

  at::set_num_threads(1);
  PairRunner one(1);
  EXPECT_FALSE(one.side_by_side());
  std::vector<int> order;
  std::thread::id id_a, id_b;
  one.run(
      [&] {
        order.push_back(1);
        id_a = std::this_thread::get_id();
      },
      [&] {
        order.push_back(2);
        id_b = std::this_thread::get_id();
      });
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(id_a, std::this_thread::get_id());
  EXPECT_EQ(id_b, std::this_thread::get_id());
}

TEST_F(PairRunnerTest, ExceptionsReachTheCallerAfterBothHalves) {
  at::set_num_threads(2);
  PairRunner pair(2);
  bool second_ran = false;
  try {
    pair.run([] { throw std::runtime_error("first failed"); }, [&] { second_ran = true; });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "first failed");
  }
  EXPECT_TRUE(second_ran);
  // Both throw: the first half's error wins; the runner stays usable.
  try {
    pair.run([] { throw std::runtime_error("one"); }, [] { throw std::runtime_error("two"); });
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "one");
  }
  int x = 0, y = 0;
  pair.run([&] { x = 1; }, [&] { y = 2; });
  EXPECT_EQ(x + y, 3);
  EXPECT_EQ(at::get_num_threads(), 2);
}

}  // namespace
}  // namespace cxrsynth
