// CUDA-only checks (ctest label `cuda`; each test skips with a message when LibTorch sees no
// GPU, which is always the case with Debian's CPU-only libtorch). Run them on a GPU machine
// built against an official CUDA LibTorch: ctest -L cuda --output-on-failure
#include <gtest/gtest.h>
#include <torch/cuda.h>

#include "config/config_io.h"
#include "core/error.h"
#include "core/log.h"
#include "core/run_dir.h"
#include "core/runtime.h"
#include "dist/gan_run.h"
#include "models/cyclegan/generator_io.h"
#include "support/temp_dir.h"
#include "train/checkpoint.h"
#include "train/classifier/classifier_trainer.h"
#include "train/classifier/phantom_run.h"
#include "train/cyclegan_trainer.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
namespace fs = std::filesystem;

#define SKIP_WITHOUT_GPU()          \
  if (!torch::cuda::is_available()) \
  GTEST_SKIP() << "no CUDA device visible to LibTorch (CPU-only build or no GPU): skipped"

TEST(DistDevice, TrainGanOnTheGpu_CUDA) {
  SKIP_WITHOUT_GPU();
  ct::TempDir dir;
  const fs::path run = dir / "run";
  ct::write_gan_run(run);
  select_stage_device("cuda", "train-gan");
  const Config cfg =
      config::load({(ct::source_dir() / "configs" / "smoke.json").string()},
                   {"gan.batch_size=2", "gan.epochs=2", "gan.decay_epochs=1",
                    "gan.steps_per_epoch=3", "gan.checkpoint_every=2", "gan.sample_every=3"});
  set_log_level(LogLevel::kQuiet);
  RunDir(run).create();
  const auto r = train::run_train_gan(cfg.gan, "normal-vs-covid", 0, false, RunDir(run));
  EXPECT_EQ(r.steps, 6);
  const auto ckpt = train::StateArchive::load(run / "gan" / "normal-vs-covid" / "checkpoint.pt");
  EXPECT_EQ(ckpt.integer("step"), 6);
  EXPECT_TRUE(fs::exists(run / "gan" / "normal-vs-covid" / "samples" / "step_00000006.png"));
  // The exported generator holds CPU tensors: synthesize (CPU) loads it.
  const auto g = models::load_generator(run / "gan" / "normal-vs-covid");
  for (const auto& p : g->parameters()) EXPECT_TRUE(p.device().is_cpu());
  // Resume on the GPU (Adam state and pools move back onto the device).
  const auto more = config::load({(ct::source_dir() / "configs" / "smoke.json").string()},
                                 {"gan.batch_size=2", "gan.epochs=3", "gan.decay_epochs=1",
                                  "gan.steps_per_epoch=3", "gan.checkpoint_every=2"});
  EXPECT_THROW(train::run_train_gan(more.gan, "normal-vs-covid", 0, true, RunDir(run)),
               UsageError);  // other options: refused before any GPU work
}

TEST(DistDevice, TrainClassifierOnTheGpu_CUDA) {
  SKIP_WITHOUT_GPU();
  ct::TempDir dir;
  const RunDir run(dir / "run");
  train::write_phantom_run(run, {{"train", 6}, {"val", 3}}, 32, 0.15, 0.3);
  select_stage_device("cuda", "train-classifier");
  const Config cfg = config::load({(ct::source_dir() / "configs" / "smoke.json").string()},
                                  {"classifier.max_epochs=1"});
  set_log_level(LogLevel::kQuiet);
  const auto r = train::run_train_classifier(cfg.classifier, "normal-vs-covid", "real", 0, run);
  EXPECT_EQ(r.epochs_run, 1);
  EXPECT_TRUE(fs::exists(r.model_file));
}
