// Training-loop guarantees on the smoke preset: determinism, exact resume, refusal of changed
// options, non-finite losses stopping with the step named and the checkpoint intact.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <limits>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "gan_test_support.h"
#include "train/cyclegan_trainer.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
using ct::losses_without_time;
using namespace cxrsynth::train;

namespace {

class GanTrainer : public ::testing::Test {
 protected:
  void SetUp() override {
    set_log_level(LogLevel::kQuiet);
    options_ = ct::load_preset("smoke").gan;
  }
  GanDataset data(const GanOptions& o) const { return ct::phantom_dataset(o, 12, 12, 32); }
  TrainGanRun run(bool resume = false, std::int64_t stop = -1) const {
    TrainGanRun r;
    r.task = "normal-vs-covid";
    r.seed = 3;
    r.resume = resume;
    r.stop_after_steps = stop;
    return r;
  }
  GanOptions options_;
};

}  // namespace

TEST_F(GanTrainer, SmokePresetTrainsAndWritesEverything) {
  ct::TempDir dir;
  const auto r = train_cyclegan(options_, data(options_), run(), dir.path());
  EXPECT_EQ(r.steps, 24);
  EXPECT_EQ(r.total_steps, 24);
  for (const char* f : {"checkpoint.pt", "losses.csv", "generator_ab.pt", "generator.json",
                        "summary.json", "samples/step_00000012.png", "samples/step_00000024.png"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  const auto losses = read_csv(dir / "losses.csv");
  EXPECT_EQ(losses.size(), 24u);
  EXPECT_EQ(losses.get_int(23, "epoch"), 4);
  // Linear decay over the last 2 of 4 epochs: 1, 1, 2/3, 1/3 of the base rate.
  EXPECT_NEAR(losses.get_double(0, "lr"), 2e-4, 1e-12);
  EXPECT_NEAR(losses.get_double(23, "lr"), 2e-4 / 3, 1e-10);
  EXPECT_GT(losses.get_double(0, "cycle_a"), 0.0);
}

TEST_F(GanTrainer, SameSeedGivesByteIdenticalCheckpoints) {
  ct::TempDir a, b;
  const auto d = data(options_);
  train_cyclegan(options_, d, run(), a.path());
  train_cyclegan(options_, d, run(), b.path());
  EXPECT_EQ(read_file(a / "checkpoint.pt"), read_file(b / "checkpoint.pt"));
  EXPECT_EQ(losses_without_time(a / "losses.csv"), losses_without_time(b / "losses.csv"));
  EXPECT_EQ(read_file(a / "samples/step_00000024.png"), read_file(b / "samples/step_00000024.png"));
  // Another seed gives another model.
  ct::TempDir c;
  auto other = run();
  other.seed = 4;
  train_cyclegan(options_, d, other, c.path());
  EXPECT_NE(read_file(a / "checkpoint.pt"), read_file(c / "checkpoint.pt"));
}

TEST_F(GanTrainer, InterruptedRunResumesToTheSameCheckpoint) {
  ct::TempDir full, part;
  const auto d = data(options_);
  train_cyclegan(options_, d, run(), full.path());
  // Interrupted after step 7 (checkpoint there), with two rows written after it as a killed
  // process leaves them (the pool is full by then: 4 images per domain).
  const auto stopped = train_cyclegan(options_, d, run(false, 7), part.path());
  EXPECT_EQ(stopped.steps, 7);
  {
    std::ofstream f(part / "losses.csv", std::ios::app);
    f << "8,2,1,1,1,1,1,1,1,1,1,1,0\n9,2,1,1,1,1,1,1,1,1,1,1,0\n";
  }
  const auto resumed = train_cyclegan(options_, d, run(true), part.path());
  EXPECT_EQ(resumed.resumed_from, 7);
  EXPECT_EQ(resumed.steps, 24);
  EXPECT_EQ(read_file(full / "checkpoint.pt"), read_file(part / "checkpoint.pt"));
  EXPECT_EQ(losses_without_time(full / "losses.csv"), losses_without_time(part / "losses.csv"));
}

// Killed after the last checkpoint but before summary.json: resuming at the last step runs no
// step, yet the summary reports the same final losses and warnings (kept in the checkpoint).
TEST_F(GanTrainer, ResumedAtTheLastStepWritesTheSameSummary) {
  ct::TempDir dir;
  const auto d = data(options_);
  train_cyclegan(options_, d, run(), dir.path());
  auto summary = nlohmann::json::parse(read_file(dir / "summary.json"));
  const std::string generator = read_file(dir / "generator_ab.pt");
  fs::remove(dir / "summary.json");
  const auto r = train_cyclegan(options_, d, run(true), dir.path());
  EXPECT_EQ(r.resumed_from, 24);
  auto again = nlohmann::json::parse(read_file(dir / "summary.json"));
  ASSERT_EQ(again["final_losses"].size(), 9u) << again.dump();
  EXPECT_EQ(again["final_losses"], summary["final_losses"]);
  EXPECT_EQ(again["warnings"], summary["warnings"]);
  EXPECT_EQ(again["mean_abs_change_ab"], summary["mean_abs_change_ab"]);
  summary.erase("resumed_from");
  again.erase("resumed_from");
  EXPECT_EQ(again, summary);
  EXPECT_EQ(read_file(dir / "generator_ab.pt"), generator);
}

// With 2 intra-op threads (the CLI's default on 2 cores; the other tests run LibTorch's default
// of 1): an interrupted and resumed run gives the same bytes as an uninterrupted one.
TEST_F(GanTrainer, TwoThreadsAreDeterministicAndResumeExactly) {
  const int saved = at::get_num_threads();
  at::set_num_threads(2);
  ct::TempDir a, part;
  const auto d = data(options_);
  train_cyclegan(options_, d, run(), a.path());
  train_cyclegan(options_, d, run(false, 11), part.path());
  train_cyclegan(options_, d, run(true), part.path());
  at::set_num_threads(saved);
  EXPECT_EQ(losses_without_time(a / "losses.csv"), losses_without_time(part / "losses.csv"));
  EXPECT_EQ(read_file(a / "checkpoint.pt"), read_file(part / "checkpoint.pt"));
  EXPECT_EQ(read_file(a / "samples/step_00000024.png"),
            read_file(part / "samples/step_00000024.png"));
}

TEST_F(GanTrainer, ResumeRefusesChangedOptionsListingThem) {
  ct::TempDir dir;
  const auto d = data(options_);
  train_cyclegan(options_, d, run(false, 5), dir.path());
  auto changed = options_;
  changed.lambda_cycle = 5;
  changed.generator.filters = 16;
  changed.checkpoint_every = 2;  // output cadence may change
  try {
    train_cyclegan(changed, d, run(true), dir.path());
    FAIL() << "resume with changed options accepted";
  } catch (const UsageError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("gan.lambda_cycle: checkpoint 10, now 5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("gan.generator.filters: checkpoint 8, now 16"), std::string::npos) << msg;
    EXPECT_EQ(msg.find("checkpoint_every"), std::string::npos) << msg;
  }
  auto cadence = options_;
  cadence.checkpoint_every = 3;
  EXPECT_NO_THROW(train_cyclegan(cadence, d, run(true, 6), dir.path()));
  // A fresh start over an existing checkpoint is refused too.
  EXPECT_THROW(train_cyclegan(options_, d, run(false), dir.path()), UsageError);
  ct::TempDir empty;
  EXPECT_THROW(train_cyclegan(options_, d, run(true), empty.path()), UsageError);
}

TEST_F(GanTrainer, NonFiniteLossStopsWithStepNamedAndCheckpointIntact) {
  ct::TempDir dir;
  train_cyclegan(options_, data(options_), run(false, 5), dir.path());
  const std::string before = read_file(dir / "checkpoint.pt");
  // Same ids (so the options match), but one image of A is NaN everywhere.
  std::vector<cv::Mat> a, b;
  std::vector<std::string> ida, idb;
  for (const auto& im : ct::phantom_images(data::PhantomClass::kNormal, 12, 32)) {
    a.push_back(im.image.clone());
    ida.push_back(fmt::format("{}_{}", im.patient_id, im.view_index));
  }
  for (auto& m : a) m.setTo(std::numeric_limits<float>::quiet_NaN());
  for (const auto& im : ct::phantom_images(data::PhantomClass::kCovid, 12, 32)) {
    b.push_back(im.image);
    idb.push_back(fmt::format("{}_{}", im.patient_id, im.view_index));
  }
  const GanDataset bad(a, ida, b, idb, options_, 0, "normal-vs-covid");
  try {
    train_cyclegan(options_, bad, run(true), dir.path());
    FAIL() << "NaN loss not detected";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("epoch 1, step 6"), std::string::npos) << msg;
    EXPECT_NE(msg.find("(step 5) is intact"), std::string::npos) << msg;
  }
  EXPECT_EQ(read_file(dir / "checkpoint.pt"), before);
}

// wgan-gp through the trainer: resumes bit for bit (the interpolation weights come from the
// step's derived generator), and the gradient penalty reaches the discriminators' update (not
// the generators' first one).
TEST_F(GanTrainer, WganGpResumesExactlyAndAppliesThePenalty) {
  auto o = options_;
  o.adv_loss = "wgan-gp";
  const auto d = data(o);
  ct::TempDir full, part, no_gp;
  train_cyclegan(o, d, run(), full.path());
  train_cyclegan(o, d, run(false, 7), part.path());
  train_cyclegan(o, d, run(true), part.path());
  EXPECT_EQ(read_file(full / "checkpoint.pt"), read_file(part / "checkpoint.pt"));
  EXPECT_EQ(losses_without_time(full / "losses.csv"), losses_without_time(part / "losses.csv"));
  const auto with = read_csv(full / "losses.csv");
  for (std::size_t i = 0; i < with.size(); ++i) {
    EXPECT_TRUE(std::isfinite(with.get_double(i, "d_a"))) << i;
    EXPECT_TRUE(std::isfinite(with.get_double(i, "d_b"))) << i;
  }
  auto plain = o;
  plain.lambda_gp = 0;
  train_cyclegan(plain, d, run(), no_gp.path());
  const auto without = read_csv(no_gp / "losses.csv");
  EXPECT_EQ(with.at(0, "g_total"), without.at(0, "g_total"));
  EXPECT_NE(with.at(0, "d_a"), without.at(0, "d_a"));
  EXPECT_NE(with.at(0, "d_b"), without.at(0, "d_b"));
}
