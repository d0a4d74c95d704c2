// Data-parallel `train-gan` (train::run_train_gan in forked ranks with torchrun's variables,
// Gloo on loopback): two processes against one process with the same global batch; a rank
// killed mid-run; resume with another process count refused. (`cxrsynth launch` itself:
// dist_launch_test.cpp.)
//
// Why the GAN comparison is exact: batch 1 per rank, instance norm (per-image statistics), no
// dropout, image pool off (gan.pool_size 0: a pool is per rank, so with a pool the two runs
// see different fakes), and every loss is a mean over the batch, so the mean of the ranks'
// gradients is the one-process gradient of the global batch; only float rounding differs.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>
#include "dist/process_group.h"
#include "train/cyclegan_step.h"
#include "train/gan_losses.h"

#include <ATen/ATen.h>

#include <chrono>
#include <fstream>
#include <opencv2/core.hpp>
#include <thread>

#include "config/config_io.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/run_dir.h"
#include "core/runtime.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "dist/fork_ranks.h"
#include "dist/gan_run.h"
#include "train/checkpoint.h"
#include "train/cyclegan_trainer.h"
#include "train/gan_test_support.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
namespace fs = std::filesystem;

namespace {

// `train-gan` with gan_args()'s options, called in a (forked) rank: smoke preset, pool off, 2
// epochs.
bool train_gan(const fs::path& run, int batch, int steps_per_epoch, int checkpoint_every,
               bool resume) {
  const Config cfg = config::load(
      {(ct::source_dir() / "configs" / "smoke.json").string()},
      {fmt::format("gan.batch_size={}", batch), "gan.pool_size=0", "gan.epochs=2",
       "gan.decay_epochs=1", fmt::format("gan.steps_per_epoch={}", steps_per_epoch),
       fmt::format("gan.checkpoint_every={}", checkpoint_every), "gan.sample_every=0"});
  apply_threads(1);
  set_log_level(LogLevel::kQuiet);
  RunDir(run).create();
  train::run_train_gan(cfg.gan, "normal-vs-covid", static_cast<std::uint64_t>(cfg.run.seed), resume,
                       RunDir(run));
  return true;
}

// Largest |a - b| over the tensors whose names start with one of the network prefixes.
double max_weight_difference(const train::StateArchive& a, const train::StateArchive& b,
                             int* compared) {
  double worst = 0;
  *compared = 0;
  for (const auto& name : a.names()) {
    if (name.rfind("G_", 0) != 0 && name.rfind("D_", 0) != 0) continue;
    const auto x = a.tensor(name), y = b.tensor(name);
    EXPECT_EQ(x.sizes(), y.sizes()) << name;
    const double d = (x - y).abs().max().item<double>();
    worst = std::max(worst, d);
    ++*compared;
  }
  return worst;
}

}  // namespace

// Through the whole trainer over 6 steps this comparison does not hold to 1e-5, and cannot for
// Adam in general: after ONE trainer step, 2 x 1 and 1 x 2 differ in only 1-21 elements per
// conv weight tensor (of 392-9216), each by exactly 2 lr: Adam's first update is lr * sign(g),
// and those elements' gradients are at rounding level, so the two summation orders (one batch
// of 2 vs. two batches of 1 averaged by the all-reduce) give opposite signs. The chaotic GAN
// dynamics then grow these differences (losses 0.2% apart at step 2, weights 1.2e-3 after 6
// steps), as between any two one-process runs whose sums are ordered differently. What data
// parallelism must guarantee is checked exactly by OneStepInTwoRanksIsTheGlobalBatchStep (and
// for the classifier by dist_classifier_test: bitwise). Disabled rather than loosened; run with
// --gtest_also_run_disabled_tests to see the figures.
TEST(DistTrain, DISABLED_TwoGanRanksEqualOneProcessWithTheGlobalBatch) {
  ct::TempDir dir;
  const fs::path one = dir / "one", two = dir / "two";
  ct::write_gan_run(one);
  ct::write_gan_run(two);
  fs::create_directories(dir / "log1");
  fs::create_directories(dir / "log2");
  const auto r1 =
      ct::start_ranks(0, dir / "log1", 60, [&](int) { return train_gan(one, 2, 3, 100, false); });
  ASSERT_EQ(ct::wait_all(r1, 300), std::vector<int>{0}) << r1.output(0);
  const auto r2 =
      ct::start_ranks(2, dir / "log2", 60, [&](int) { return train_gan(two, 1, 3, 100, false); });
  ASSERT_EQ(ct::wait_all(r2, 300), (std::vector<int>{0, 0})) << r2.output(0) << r2.output(1);

  const auto a = train::StateArchive::load(one / "gan" / "normal-vs-covid" / "checkpoint.pt");
  const auto b = train::StateArchive::load(two / "gan" / "normal-vs-covid" / "checkpoint.pt");
  EXPECT_EQ(a.integer("step"), 6);
  EXPECT_EQ(b.integer("step"), 6);
  EXPECT_EQ(a.integer("world_size"), 1);
  EXPECT_EQ(b.integer("world_size"), 2);
  int compared = 0;
  const double diff = max_weight_difference(a, b, &compared);
  EXPECT_GT(compared, 10);
  // Not trivially true: Adam moves a weight by about lr = 2e-4 per step, 20x the tolerance, so
  // a missing or wrong all-reduce (or a wrong shard) fails this.
  EXPECT_LE(diff, 1e-5) << "max |w_2proc - w_1proc| over " << compared << " tensors";
  std::cout << "[ dist ] GAN: max |w_2proc - w_1proc| = " << diff << " over " << compared
            << " tensors after 6 steps\n";
  // Rank 0 alone wrote the outputs; losses.csv holds the global batch's losses.
  const auto la = read_csv(one / "gan" / "normal-vs-covid" / "losses.csv");
  const auto lb = read_csv(two / "gan" / "normal-vs-covid" / "losses.csv");
  ASSERT_EQ(la.size(), 6u);
  ASSERT_EQ(lb.size(), 6u);
  for (std::size_t i = 0; i < la.size(); ++i)
    EXPECT_NEAR(la.get_double(i, "g_total"), lb.get_double(i, "g_total"),
                1e-4 * std::abs(la.get_double(i, "g_total")))
        << "step " << i + 1;
}

TEST(DistTrain, KilledRankStopsTheOtherAndResumeNeedsTheSameWorldSize) {
  ct::TempDir dir;
  const fs::path run = dir / "run";
  ct::write_gan_run(run);
  const fs::path out = run / "gan" / "normal-vs-covid";
  for (const char* d : {"a", "b", "c"}) fs::create_directories(dir / d);
  // 40 steps, a checkpoint every 2; rank 1 is killed once the first checkpoint exists.
  const auto ranks =
      ct::start_ranks(2, dir / "a", 30, [&](int) { return train_gan(run, 1, 20, 2, false); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(out / "checkpoint.pt") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(ranks.pids[1], SIGKILL);
  EXPECT_EQ(ct::wait_rank(ranks.pids[1], 60), 128 + SIGKILL)
      << "rank 1 finished before it could be killed";
  // Rank 0 stops by itself: its next collective fails (at worst after the 30 s timeout).
  const int code0 = ct::wait_rank(ranks.pids[0], 90);
  const std::string log0 = ranks.output(0);
  EXPECT_EQ(code0, 1) << "(-1: still running 90 s after rank 1 died)\n" << log0;
  EXPECT_NE(log0.find("rank 0 of 2"), std::string::npos) << log0;
  EXPECT_NE(log0.find("failed"), std::string::npos) << log0;
  std::cout << "[ dist ] rank 0 after rank 1 was killed: " << log0;

  // The last checkpoint is intact, written by rank 0 for 2 processes.
  const auto ckpt = train::StateArchive::load(out / "checkpoint.pt");
  const auto step = ckpt.integer("step");
  EXPECT_GE(step, 2);
  EXPECT_LT(step, 40);
  EXPECT_EQ(step % 2, 0);
  EXPECT_EQ(ckpt.integer("world_size"), 2);

  // One process may not resume it; two may, to the end.
  const auto one =
      ct::start_ranks(0, dir / "b", 30, [&](int) { return train_gan(run, 1, 20, 2, true); });
  EXPECT_EQ(ct::wait_all(one, 120), std::vector<int>{2}) << one.output(0);
  EXPECT_NE(one.output(0).find("was written by 2 process(es)"), std::string::npos) << one.output(0);
  const auto two =
      ct::start_ranks(2, dir / "c", 30, [&](int) { return train_gan(run, 1, 20, 2, true); });
  EXPECT_EQ(ct::wait_all(two, 300), (std::vector<int>{0, 0})) << two.output(0) << two.output(1);
  EXPECT_EQ(train::StateArchive::load(out / "checkpoint.pt").integer("step"), 40);
  EXPECT_EQ(read_csv(out / "losses.csv").size(), 40u);
}

// One training step (train::cyclegan_step with the trainer's gradient-sync hook) in two real
// ranks with batch 1 each equals the one-process step on the global batch of 2: every conv
// weight to 1e-5 (measured: ~1e-9) and G_A's output on other images to 1e-5. Not compared:
// conv biases that feed an InstanceNorm. Their gradient is mathematically zero (the norm
// removes any per-channel constant), so it is rounding noise, which Adam's first step
// normalises to +-lr; they change no output (checked through G_A's output).
TEST(DistTrain, OneStepInTwoRanksIsTheGlobalBatchStep) {
  ct::TempDir dir;
  const auto ranks = ct::start_ranks(2, dir.path(), 30, [&](int rank) {
    at::set_num_threads(1);
    auto o = ct::load_preset("smoke").gan;
    o.pool_size = 0;
    o.batch_size = 2;
    const auto whole = ct::phantom_dataset(o, 8, 8, 36);
    auto per = o;
    per.batch_size = 1;
    auto shard = ct::phantom_dataset(per, 8, 8, 36);
    shard.set_sharding(dist::sharding());
    auto run = [&](const train::GanBatch& b, bool sync) {
      torch::manual_seed(3);
      auto nets = train::make_nets(o);
      std::vector<torch::Tensor> gp = nets.g_a->parameters(), dp = nets.d_a->parameters();
      for (auto& p : nets.g_b->parameters()) gp.push_back(p);
      for (auto& p : nets.d_b->parameters()) dp.push_back(p);
      torch::optim::Adam og(gp, torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}));
      torch::optim::Adam od(dp, torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}));
      train::ImagePool pa(0), pb(0);
      Rng rng(1);
      train::StepHooks hooks;
      if (sync)
        hooks.sync_gradients = [](const std::vector<at::Tensor>& p) {
          dist::all_reduce_gradients(p);
        };
      train::cyclegan_step(nets, og, od, pa, pb, b.real_a, b.real_b, rng, o, hooks);
      std::vector<torch::Tensor> w;
      for (auto& p : gp)
        if (p.dim() > 1) w.push_back(p.detach().clone());  // conv weights (biases: see above)
      for (auto& p : dp)
        if (p.dim() > 1) w.push_back(p.detach().clone());
      torch::NoGradGuard no_grad;
      w.push_back(nets.g_a->forward(whole.batch(5).real_a).clone());
      return w;
    };
    const auto expected = run(whole.batch(0), false);  // one process, global batch
    const auto got = run(shard.batch(0), true);        // this rank's slice + all-reduce
    double worst = 0;
    for (std::size_t i = 0; i < expected.size(); ++i)
      worst = std::max(worst, (expected[i] - got[i]).abs().max().item<double>());
    std::ofstream(dir / fmt::format("diff{}.txt", rank)) << worst;
    return worst <= 1e-5;
  });
  EXPECT_EQ(ct::wait_all(ranks, 120), (std::vector<int>{0, 0}))
      << ranks.output(0) << ranks.output(1);
  std::ifstream in(dir / "diff0.txt");
  std::cout << "[ dist ] one step, 2 ranks x 1 vs 1 x 2: max |difference| = "
            << std::string(std::istreambuf_iterator<char>(in), {}) << "\n";
}
