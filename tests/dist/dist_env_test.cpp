// The process environment of a data-parallel job, and how the GAN data shards a global batch.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <map>

#include "core/error.h"
#include "core/runtime.h"
#include "dist/env.h"
#include "support/temp_dir.h"
#include "train/gan_dataset.h"
#include "train/gan_test_support.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;

namespace {

dist::EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const std::string& k) -> std::optional<std::string> {
    const auto it = vars.find(k);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  try {
    dist::read_dist_env(env_of(vars));
  } catch (const UsageError& e) {
    return e.full_message();
  }
  return "";
}

}  // namespace

TEST(DistEnv, NothingSetIsOneProcess) {
  const auto e = dist::read_dist_env(env_of({}));
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.rank, 0);
  EXPECT_FALSE(e.distributed());
  EXPECT_EQ(e.source, "none");
}

TEST(DistEnv, TorchrunVariables) {
  const auto e = dist::read_dist_env(env_of({{"RANK", "3"},
                                             {"WORLD_SIZE", "4"},
                                             {"LOCAL_RANK", "1"},
                                             {"MASTER_ADDR", "node1"},
                                             {"MASTER_PORT", "29500"}}));
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.master_addr, "node1");
  EXPECT_EQ(e.master_port, 29500);
  EXPECT_EQ(e.source, "torchrun");
}

TEST(DistEnv, SlurmVariablesWhenTorchrunsAreAbsent) {
  const auto e = dist::read_dist_env(env_of({{"SLURM_PROCID", "1"},
                                             {"SLURM_NTASKS", "2"},
                                             {"SLURM_LOCALID", "0"},
                                             {"MASTER_ADDR", "10.0.0.1"},
                                             {"MASTER_PORT", "1234"}}));
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 2);
  EXPECT_EQ(e.source, "slurm");
  // RANK/WORLD_SIZE win over Slurm's (torchrun inside an allocation).
  const auto t = dist::read_dist_env(
      env_of({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"RANK", "0"}, {"WORLD_SIZE", "1"}}));
  EXPECT_EQ(t.source, "torchrun");
  EXPECT_EQ(t.world_size, 1);
}

TEST(DistEnv, WorldSizeOneNeedsNoMaster) {
  const auto e = dist::read_dist_env(env_of({{"RANK", "0"}, {"WORLD_SIZE", "1"}}));
  EXPECT_FALSE(e.distributed());
}

TEST(DistEnv, ClearErrors) {
  EXPECT_NE(error_of({{"RANK", "0"}}).find("RANK is set but WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}}).find("RANK='2'"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("expected an integer"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}}).find("MASTER_ADDR and MASTER_PORT"),
            std::string::npos);
  EXPECT_NE(
      error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}).find("export them in the batch"),
      std::string::npos);
  EXPECT_NE(
      error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
          .find("MASTER_PORT='70000'"),
      std::string::npos);
}

TEST(DistEnv, Timeout) {
  EXPECT_EQ(dist::collective_timeout_seconds(env_of({})), 300);
  EXPECT_EQ(dist::collective_timeout_seconds(env_of({{"CXRSYNTH_DIST_TIMEOUT_S", "7"}})), 7);
  EXPECT_THROW(dist::collective_timeout_seconds(env_of({{"CXRSYNTH_DIST_TIMEOUT_S", "0"}})),
               UsageError);
}

// Rank r of W with batch b gets exactly slice r of the one-process batch of b x W: same images,
// crops and flips; steps_per_epoch 0 counts global batches.
TEST(DistSharding, GanShardsAreSlicesOfTheGlobalBatch) {
  auto o = ct::load_preset("smoke").gan;
  o.batch_size = 3;
  o.steps_per_epoch = 0;
  const auto whole = ct::phantom_dataset(o, 13, 11, 36);
  auto per_rank = o;
  per_rank.batch_size = 1;
  for (int rank = 0; rank < 3; ++rank) {
    auto shard = ct::phantom_dataset(per_rank, 13, 11, 36);
    shard.set_sharding({rank, 3});
    EXPECT_EQ(shard.steps_per_epoch(), whole.steps_per_epoch());
    for (std::int64_t step : {0, 1, 5, 9}) {
      const auto g = whole.batch(step), s = shard.batch(step);
      EXPECT_TRUE(at::equal(s.real_a, g.real_a.slice(0, rank, rank + 1))) << rank << " " << step;
      EXPECT_TRUE(at::equal(s.real_b, g.real_b.slice(0, rank, rank + 1))) << rank << " " << step;
    }
  }
  auto bad = ct::phantom_dataset(per_rank, 4, 4, 36);
  EXPECT_THROW(bad.set_sharding({2, 2}), Error);
}

// --device: a clear error that says which of the two is missing, CUDA in the build or a GPU.
TEST(DistDevice, CudaRefusedWithAReason) {
  if (at::hasCUDA()) GTEST_SKIP() << "a GPU is present";
  EXPECT_EQ(select_stage_device("cpu", "synthesize"), c10::Device(c10::kCPU));
  EXPECT_EQ(compute_device(), c10::Device(c10::kCPU));
  std::string msg;
  try {
    select_stage_device("cuda:1", "train-gan");
  } catch (const Error& e) {
    msg = e.full_message();
  }
  EXPECT_TRUE(msg.find("this build has no CUDA") != std::string::npos ||
              msg.find("no GPU is visible") != std::string::npos)
      << msg;
  EXPECT_EQ(compute_device(), c10::Device(c10::kCPU));  // unchanged after the refusal
  EXPECT_THROW(select_stage_device("gpu", "train-gan"), UsageError);
  EXPECT_THROW(select_stage_device("cpu:0", "train-gan"), UsageError);
}
