// `cxrsynth launch` with the real binary: output prefixed by rank, a data-parallel train-gan
// through launch, a failing rank named with its status.
#include <gtest/gtest.h>

#include "core/csv.h"
#include "dist/gan_run.h"
#include "support/temp_dir.h"
#include "train/checkpoint.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
namespace fs = std::filesystem;

TEST(DistLaunch, TwoRanksTrainTheGan) {
  ct::TempDir dir;
  const fs::path run = dir / "run";
  ct::write_gan_run(run);
  const auto r = ct::run_cli("launch -n 2 -- " + ct::gan_args(run, 1, 3, 100));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto ckpt = train::StateArchive::load(run / "gan" / "normal-vs-covid" / "checkpoint.pt");
  EXPECT_EQ(ckpt.integer("step"), 6);
  EXPECT_EQ(ckpt.integer("world_size"), 2);
  EXPECT_NE(r.output.find("launch: all 2 process(es) finished"), std::string::npos) << r.output;
}

TEST(DistLaunch, AFailingRankIsNamedAndTheOthersStopped) {
  ct::TempDir dir;
  // No manifest: every rank fails (status 1) before any collective; its error is forwarded.
  const auto r = ct::run_cli("launch -n 2 -- " + ct::gan_args(dir / "empty", 1, 3, 100));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("launch: rank "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("of 2"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("exited with status 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("] error: "), std::string::npos) << r.output;  // "[rank r] error: ..."
  const auto usage = ct::run_cli("launch -n 2");
  EXPECT_EQ(usage.exit_code, 2) << usage.output;
}
