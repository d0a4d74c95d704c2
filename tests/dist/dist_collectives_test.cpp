// c10d through cxrsynth_dist between two real processes on loopback (Gloo): each test forks
// two children that set RANK/WORLD_SIZE/MASTER_* and run the collectives; the parent only
// waits (it never touches LibTorch's thread pools or the process group itself).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>

#include "core/error.h"
#include "dist/launch.h"
#include "dist/process_group.h"
#include "support/temp_dir.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
namespace fs = std::filesystem;

namespace {

// Forks one child per rank running body(rank) (exit 0 = passed, 1 = failed, 2 = threw); the
// child's messages go to <dir>/rank<r>.txt. Returns the exit statuses.
std::vector<int> run_ranks(int world, const fs::path& dir, int timeout_s,
                           const std::function<bool(int)>& body) {
  const int port = dist::free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("CXRSYNTH_DIST_TIMEOUT_S", std::to_string(timeout_s).c_str(), 1);
      std::ofstream out(dir / fmt::format("rank{}.txt", r));
      int code = 1;
      try {
        code = body(r) ? 0 : 1;
        out << "done\n";
      } catch (const std::exception& e) {
        out << e.what() << "\n";
        code = 2;
      }
      out.close();
      _exit(code);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (const pid_t pid : pids) {
    int status = 0;
    waitpid(pid, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
  }
  return codes;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST(DistCollectives, GradientsAveragedValuesBroadcastTensorsGathered) {
  ct::TempDir dir;
  const auto codes = run_ranks(2, dir.path(), 60, [](int rank) {
    if (!dist::distributed() || dist::rank() != rank || dist::world_size() != 2) return false;
    // Gradients: rank r holds r + 1 (and one parameter without a gradient) -> mean.
    auto p = at::zeros({3}, at::kFloat).set_requires_grad(true);
    auto q = at::zeros({2, 2}, at::kFloat).set_requires_grad(true);
    p.mutable_grad() = at::full({3}, float(rank + 1));
    dist::all_reduce_gradients({p, q});
    if (!at::allclose(p.grad(), at::full({3}, 1.5f))) return false;
    if (!q.grad().defined() || q.grad().abs().sum().item<float>() != 0) return false;
    // Rank 0's values and tensors everywhere.
    const auto v = dist::broadcast_values({double(rank) + 0.25, -1.0 * rank});
    if (v != std::vector<double>{0.25, 0.0}) return false;
    auto t = at::full({4}, float(rank * 10));
    dist::broadcast_from_main({t});
    if (!at::equal(t, at::zeros({4}))) return false;
    const auto sum = dist::all_reduce_sum({double(rank + 1)});
    if (sum[0] != 3.0) return false;
    const auto all = dist::all_gather(at::full({2}, float(rank)));
    if (all.size() != 2 || all[1][0].item<float>() != 1.0f) return false;
    dist::barrier("at the end of the test");
    return true;
  });
  EXPECT_EQ(codes, (std::vector<int>{0, 0}))
      << read_text(dir / "rank0.txt") << read_text(dir / "rank1.txt");
}

// A rank that dies before a collective: the survivor's collective fails with an Error naming
// its rank and the operation (the dead peer's sockets close; at worst the timeout fires).
TEST(DistCollectives, DeadPeerTurnsIntoAnError) {
  ct::TempDir dir;
  const auto codes = run_ranks(2, dir.path(), 20, [](int rank) {
    dist::init();
    if (rank == 1) {
      ::kill(::getpid(), SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto p = at::zeros({1000}, at::kFloat).set_requires_grad(true);
    p.mutable_grad() = at::ones({1000});
    for (int i = 0; i < 100; ++i) dist::all_reduce_gradients({p});
    return true;
  });
  ASSERT_EQ(codes.size(), 2u);
  EXPECT_EQ(codes[1], 128 + SIGKILL);
  EXPECT_EQ(codes[0], 2) << read_text(dir / "rank0.txt");
  const auto msg = read_text(dir / "rank0.txt");
  EXPECT_NE(msg.find("rank 0 of 2: all-reduce of the gradients failed"), std::string::npos) << msg;
}

TEST(DistCollectives, OneProcessIsANoOp) {
  // No RANK/WORLD_SIZE in this test process: nothing is created, values pass through.
  ASSERT_EQ(std::getenv("WORLD_SIZE"), nullptr) << "run the tests without torchrun variables";
  EXPECT_FALSE(dist::distributed());
  auto p = at::zeros({2}).set_requires_grad(true);
  p.mutable_grad() = at::full({2}, 3.0f);
  dist::all_reduce_gradients({p});
  EXPECT_TRUE(at::equal(p.grad(), at::full({2}, 3.0f)));
  EXPECT_EQ(dist::broadcast_values({1.5}), std::vector<double>{1.5});
  dist::barrier("noop");
}
