// `cxrsynth train-gan` end to end: a run killed with SIGKILL after its first checkpoint and
// resumed with --resume ends with the checkpoint of an uninterrupted run, byte for byte.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <opencv2/core.hpp>
#include <thread>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "gan_test_support.h"
#include "train/checkpoint.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
using ct::losses_without_time;

namespace {

std::string binary() {
  const char* env = std::getenv("CXRSYNTH_BINARY");
  return env ? env : CXRSYNTH_BINARY_PATH;
}

// R/data/manifest.csv and 8-bit PNGs: 10 normal and 10 covid phantoms in the GAN subset of
// normal-vs-covid, plus a test-split row that must not be used.
void write_run_data(const fs::path& run) {
  std::vector<data::ManifestRow> rows;
  auto add = [&](data::PhantomClass c, int n, const std::string& split, bool gan) {
    for (const auto& im : ct::phantom_images(c, n, 32)) {
      data::ManifestRow r;
      r.id = fmt::format("{}-{}{}", im.patient_id, im.view_index, split == "test" ? "-t" : "");
      r.source = "phantom";
      r.patient_id = "phantom:" + im.patient_id + (split == "test" ? "t" : "");
      r.label = data::phantom_class_name(c);
      r.split = split;
      r.original_path = r.id;
      r.path = "images/" + r.id + ".png";
      r.width = r.height = 32;
      r.bit_depth = 8;
      r.sha256 = std::string(64, '0');
      r.gan_tasks = gan ? "normal-vs-covid" : "";
      cv::Mat u8;
      im.image.convertTo(u8, CV_8U, 255.0);
      data::write_png_atomic(run / "data" / r.path, u8);
      rows.push_back(r);
    }
  };
  add(data::PhantomClass::kNormal, 10, "train", true);
  add(data::PhantomClass::kCovid, 10, "train", true);
  add(data::PhantomClass::kNormal, 2, "test", false);
  data::write_manifest(run / "data" / "manifest.csv", rows);
}

std::vector<std::string> train_args(const fs::path& run, bool resume) {
  std::vector<std::string> a = {binary(),    "train-gan",
                                "--task",    "normal-vs-covid",
                                "--run-dir", run.string(),
                                "--config",  (ct::source_dir() / "configs" / "smoke.json").string(),
                                "--set",     "gan.batch_size=1",
                                "--set",     "gan.steps_per_epoch=40",
                                "--set",     "gan.checkpoint_every=10",
                                "--set",     "gan.sample_every=0",
                                "--threads", "1",
                                "-q"};
  if (resume) a.push_back("--resume");
  return a;
}

pid_t spawn(const std::vector<std::string>& args) {
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const auto& s : args) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int run_to_end(const std::vector<std::string>& args) {
  const pid_t pid = spawn(args);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST(TrainGanCli, KilledRunResumesToTheUninterruptedCheckpoint) {
  ct::TempDir dir;
  const fs::path full = dir / "full", killed = dir / "killed";
  write_run_data(full);
  write_run_data(killed);

  ASSERT_EQ(run_to_end(train_args(full, false)), 0);
  const fs::path out_full = full / "gan" / "normal-vs-covid";
  ASSERT_TRUE(fs::exists(out_full / "checkpoint.pt"));
  EXPECT_EQ(read_csv(out_full / "losses.csv").size(), 160u);  // 4 epochs x 40 steps

  const fs::path out_killed = killed / "gan" / "normal-vs-covid";
  const pid_t pid = spawn(train_args(killed, false));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(out_killed / "checkpoint.pt") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ::kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  const auto at_kill = train::StateArchive::load(out_killed / "checkpoint.pt").integer("step");
  EXPECT_LT(at_kill, 160);
  EXPECT_GE(at_kill, 10);

  // Resuming with other options is refused, naming the key.
  const auto refused =
      ct::run_cli("train-gan --task normal-vs-covid --run-dir " + killed.string() + " --config " +
                  (ct::source_dir() / "configs" / "smoke.json").string() +
                  " --set gan.lambda_cycle=3 --resume -q");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("gan.lambda_cycle"), std::string::npos) << refused.output;

  ASSERT_EQ(run_to_end(train_args(killed, true)), 0);
  EXPECT_EQ(read_file(out_full / "checkpoint.pt"), read_file(out_killed / "checkpoint.pt"));
  EXPECT_EQ(losses_without_time(out_full / "losses.csv"),
            losses_without_time(out_killed / "losses.csv"));
  EXPECT_TRUE(fs::exists(out_killed / "generator_ab.pt"));
  EXPECT_TRUE(fs::exists(out_killed / "generator.json"));
}

TEST(TrainGanCli, UnknownTaskAndMissingDataAreUsageErrors) {
  ct::TempDir dir;
  const auto bad_task =
      ct::run_cli("train-gan --task normal-vs-pneumonia --run-dir " + dir.path().string() + " -q");
  EXPECT_EQ(bad_task.exit_code, 2) << bad_task.output;
  const auto no_data =
      ct::run_cli("train-gan --task normal-vs-covid --run-dir " + dir.path().string() + " -q");
  EXPECT_NE(no_data.exit_code, 0);
  EXPECT_NE(no_data.output.find("manifest"), std::string::npos) << no_data.output;
}
