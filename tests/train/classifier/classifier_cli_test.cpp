// The CLI path of a trained classifier: train-classifier -> evaluate -> predict (PNG, and an
// RSNA DICOM when the shared samples are present).
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "support/temp_dir.h"
#include "train/classifier/phantom_run.h"

namespace cxrsynth::train {
namespace {

using testing::run_cli;
using testing::TempDir;

TEST(ClassifierCli, TrainEvaluatePredict) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  write_phantom_run(run, {{"train", 10}, {"val", 4}, {"test", 6}}, 32, 0.15, 0.3);
  testing::write_text(tmp / "tiny.json", R"({
  "classifier": {
    "model": {"arch": "densenet", "densenet_growth_rate": 4, "densenet_block_config": [2, 2],
              "densenet_init_features": 8, "densenet_bn_size": 2},
    "batch_size": 8, "max_epochs": 2, "lr": 1.0
  },
  "evaluate": {"bootstrap_draws": 50}
})");
  const std::string common = "--run-dir " + run.root().string() + " --config " +
                             (tmp / "tiny.json").string() + " --task normal-vs-covid";
  auto r = run_cli("train-classifier " + common + " --arch densenet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto model = run.root() / "classifiers/normal-vs-covid/real/densenet/model.pt";
  ASSERT_TRUE(fs::exists(model)) << r.output;
  EXPECT_EQ(read_csv(model.parent_path() / "history.csv").size(), 2u);

  r = run_cli("evaluate " + common + " --arch densenet");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = run.root() / "eval/normal-vs-covid/real/densenet";
  const auto predictions = read_csv(out / "predictions.csv");
  EXPECT_EQ(predictions.size(), 12u);
  EXPECT_TRUE(fs::exists(out / "metrics.json"));
  EXPECT_NE(read_file(out / "evaluation.json").find("\"validated_on_test_set\": false"),
            std::string::npos);
  const auto features = read_csv(out / "features.csv");
  EXPECT_EQ(features.size(), 12u);
  EXPECT_EQ(features.header().size(), 5u + 16u);  // id .. origin, 16 pooled features

  // predict on a stored PNG: the same probability evaluate wrote.
  const auto png = run.data_dir() / "images" / (predictions.at(0, "id") + ".png");
  r = run_cli("predict --checkpoint " + model.string() + " " + png.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto printed = parse_csv(r.output.substr(r.output.find("file,p_covid")), "stdout");
  ASSERT_EQ(printed.size(), 1u);
  EXPECT_NEAR(printed.get_double(0, "p_covid"), predictions.get_double(0, "p_covid"), 1e-5);

  r = run_cli("predict --checkpoint " + model.string() + " " + (tmp / "missing.png").string());
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("missing.png"), std::string::npos) << r.output;

  const auto rsna = testing::shared_data("rsna-sample");
  if (!rsna) GTEST_SKIP() << "../shared/data/rsna-sample absent: DICOM predict not checked";
  fs::path dicom;
  for (const auto& e : fs::directory_iterator(*rsna / "stage_2_train_images")) {
    if (e.path().extension() == ".dcm") {
      dicom = e.path();
      break;
    }
  }
  ASSERT_FALSE(dicom.empty());
  r = run_cli("predict --checkpoint " + model.parent_path().string() + " " + dicom.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto d = parse_csv(r.output.substr(r.output.find("file,p_covid")), "stdout");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_GE(d.get_double(0, "p_covid"), 0.0);
  EXPECT_LE(d.get_double(0, "p_covid"), 1.0);
}

TEST(ClassifierCli, BaggingTreesTrainEvaluatePredictAndConfig) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  write_phantom_run(run, {{"train", 8}, {"val", 2}, {"test", 4}}, 32, 0.15, 0.3);
  testing::write_text(tmp / "tiny.json", R"({
  "classifier": {
    "model": {"densenet_growth_rate": 4, "densenet_block_config": [2, 2],
              "densenet_init_features": 8, "densenet_bn_size": 2},
    "bgt": {"trees": 7}
  },
  "evaluate": {"bootstrap_draws": 20}
})");
  const std::string common = "--run-dir " + run.root().string() + " --config " +
                             (tmp / "tiny.json").string() + " --task normal-vs-covid";
  auto r = run_cli("train-classifier " + common + " --arch densenet-bgt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("RANDOMLY initialised"), std::string::npos) << r.output;
  const auto dir = run.root() / "classifiers/normal-vs-covid/real/densenet-bgt";
  ASSERT_TRUE(fs::exists(dir / "bgt.json")) << r.output;

  r = run_cli("evaluate " + common + " --arch densenet-bgt");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto out = run.root() / "eval/normal-vs-covid/real/densenet-bgt";
  const auto predictions = read_csv(out / "predictions.csv");
  EXPECT_EQ(predictions.size(), 8u);
  EXPECT_EQ(read_csv(out / "features.csv").header().size(), 5u + 16u);

  const auto png = run.data_dir() / "images" / (predictions.at(0, "id") + ".png");
  r = run_cli("predict --checkpoint " + dir.string() + " " + png.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto printed = parse_csv(r.output.substr(r.output.find("file,p_covid")), "stdout");
  ASSERT_EQ(printed.size(), 1u);
  EXPECT_NEAR(printed.get_double(0, "p_covid"), predictions.get_double(0, "p_covid"), 1e-6);

  // A corrupted ensemble: evaluate fails naming the file.
  auto trees = read_file(dir / "trees.yml");
  trees[trees.size() / 2] ^= 1;
  write_file_atomic(dir / "trees.yml", trees);
  r = run_cli("evaluate " + common + " --arch densenet-bgt");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("trees.yml is corrupted"), std::string::npos) << r.output;

  // The config section is documented and strict.
  r = run_cli("train-classifier " + common + " --arch densenet-bgt --set classifier.bgt.trees=0");
  EXPECT_EQ(r.exit_code, 2) << r.output;
}

}  // namespace
}  // namespace cxrsynth::train
