// DenseNet + bagging trees ("DenseNet-121 + BGT"): a tiny phantom run beats chance on held-out
// images, the same seed gives identical probabilities, a finished model is kept and other
// options are refused, the descriptor names the backbone weights (and says when they are
// random), corrupted or missing files are refused, the "trained" feature source.
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "eval/classifier/classifier_inference.h"
#include "eval/classifier/evaluate.h"
#include "eval/metrics.h"
#include "models/classifiers/weights_io.h"
#include "support/temp_dir.h"
#include "train/classifier/bgt_trainer.h"
#include "train/classifier/classifier_trainer.h"
#include "train/classifier/phantom_run.h"

namespace cxrsynth::train {
namespace {

using testing::message_of;
using testing::TempDir;

constexpr const char* kTask = "normal-vs-covid";

ClassifierOptions tiny_bgt() {
  ClassifierOptions o;
  o.model.arch = "densenet-bgt";
  o.model.densenet_growth_rate = 8;
  o.model.densenet_block_config = {2, 2};
  o.model.densenet_init_features = 16;
  o.model.densenet_bn_size = 2;
  o.bgt.trees = 15;
  return o;
}

double test_auc(const std::vector<ClassifierSample>& test, const std::vector<double>& p) {
  std::vector<eval::Prediction> preds;
  for (std::size_t i = 0; i < test.size(); ++i) {
    preds.push_back({test[i].id, test[i].patient_id, test[i].label, p[i]});
  }
  return eval::roc_auc(preds);
}

nlohmann::json descriptor(const fs::path& dir) {
  return nlohmann::json::parse(read_file(dir / kBgtDescriptorFile));
}

TEST(BgtTraining, PhantomRunBeatsChanceAndIsDeterministic) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  // Strong ground-glass patches: the features of a RANDOM tiny DenseNet (global averages)
  // must carry the signal; with an ImageNet or trained backbone weaker ones would do.
  write_phantom_run(run, {{"train", 30}, {"val", 6}, {"test", 16}}, 64, 0.4, 0.7);
  const auto o = tiny_bgt();
  const auto r = run_train_classifier(o, kTask, "real", 5, run);
  const auto dir = classifier_output_dir(run, kTask, "real", "densenet-bgt");
  EXPECT_EQ(r.model_file, dir / kBgtDescriptorFile);
  EXPECT_FALSE(r.already_done);
  for (const char* f : {kBgtDescriptorFile, kBgtTreesFile, kBgtBackboneFile}) {
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  }
  // No weights: the descriptor says the backbone is random, in words.
  const auto j = descriptor(dir);
  EXPECT_TRUE(j["backbone"]["random"].get<bool>());
  EXPECT_NE(j["backbone"]["weights"].get<std::string>().find("RANDOMLY INITIALISED"),
            std::string::npos);
  EXPECT_EQ(j["backbone"]["model"]["arch"], "densenet");
  EXPECT_EQ(j["ensemble"]["trees"], 15);
  EXPECT_EQ(j["feature_count"], 16 + 2 * 8);  // transition halves 16+16 -> 16, + 2 layers of 8
  EXPECT_EQ(j["train"]["negatives"], 30);

  auto model = load_bgt_model(dir);
  EXPECT_TRUE(model.random_backbone);
  EXPECT_EQ(model.metadata.at("random_backbone"), "true");
  const auto data = classifier_data_from_manifest(run, kTask);
  const auto scores = score_bgt(model, data.test, 8);
  ASSERT_EQ(scores.p_covid.size(), data.test.size());
  for (double p : scores.p_covid) {
    // A fraction of 15 votes.
    EXPECT_NEAR(p * 15, std::round(p * 15), 1e-9);
  }
  const double auc = test_auc(data.test, scores.p_covid);
  RecordProperty("test_auc", std::to_string(auc));
  EXPECT_GT(auc, 0.75) << "held-out ROC-AUC " << auc;

  // Same seed, other run directory: identical trees and probabilities.
  const RunDir run2(tmp / "run2");
  write_phantom_run(run2, {{"train", 30}, {"val", 6}, {"test", 16}}, 64, 0.4, 0.7);
  run_train_classifier(o, kTask, "real", 5, run2);
  const auto dir2 = classifier_output_dir(run2, kTask, "real", "densenet-bgt");
  EXPECT_EQ(read_file(dir / kBgtTreesFile), read_file(dir2 / kBgtTreesFile));
  auto model2 = load_bgt_model(dir2);
  const auto data2 = classifier_data_from_manifest(run2, kTask);
  EXPECT_EQ(score_bgt(model2, data2.test, 5).p_covid, scores.p_covid);

  // Finished: kept. Other tree count: refused. Other CNN-only options: still kept.
  EXPECT_TRUE(run_train_classifier(o, kTask, "real", 5, run).already_done);
  auto other_lr = o;
  other_lr.lr = 0.5;
  other_lr.max_epochs = 3;
  EXPECT_TRUE(run_train_classifier(other_lr, kTask, "real", 5, run).already_done);
  auto more = o;
  more.bgt.trees = 16;
  EXPECT_THROW(run_train_classifier(more, kTask, "real", 5, run), UsageError);
}

TEST(BgtTraining, CorruptedOrMissingFilesAreRefusedNamingThem) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  write_phantom_run(run, {{"train", 6}, {"val", 2}}, 32, 0.15, 0.3);
  auto o = tiny_bgt();
  o.bgt.trees = 3;
  run_train_classifier(o, kTask, "real", 1, run);
  const auto dir = classifier_output_dir(run, kTask, "real", "densenet-bgt");

  auto trees = read_file(dir / kBgtTreesFile);
  trees[trees.size() / 3] ^= 1;
  write_file_atomic(dir / kBgtTreesFile, trees);
  auto msg = message_of([&] { load_bgt_model(dir); });
  EXPECT_NE(msg.find("corrupted"), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir / kBgtTreesFile).string()), std::string::npos) << msg;
  // Re-running train-classifier does not silently keep a corrupted model either.
  EXPECT_THROW(run_train_classifier(o, kTask, "real", 1, run), Error);

  fs::remove(dir / kBgtTreesFile);
  msg = message_of([&] { load_bgt_model(dir); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;

  auto backbone = read_file(dir / kBgtBackboneFile);
  backbone[backbone.size() / 2] ^= 1;
  write_file_atomic(dir / kBgtBackboneFile, backbone);
  msg = message_of([&] { load_bgt_model(dir); });
  EXPECT_NE(msg.find("changed since the trees were fitted"), std::string::npos) << msg;

  msg = message_of([&] { load_bgt_model(tmp / "nowhere"); });
  EXPECT_NE(msg.find("not found"), std::string::npos) << msg;
}

TEST(BgtTraining, BackboneWeightsFileIsNamedAndChecked) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  write_phantom_run(run, {{"train", 6}, {"val", 2}}, 32, 0.15, 0.3);
  auto o = tiny_bgt();
  o.bgt.trees = 3;
  // A weights file for the backbone (here: a random DenseNet saved in our format; users give
  // scripts/export_torchvision.py's ImageNet export).
  torch::manual_seed(3);
  auto net = models::make_classifier(bgt_backbone_options(o.model));
  const auto weights = tmp / "weights.pt";
  models::save_classifier_file(*net, weights);
  o.weights = weights.string();
  run_train_classifier(o, kTask, "real", 1, run);
  const auto dir = classifier_output_dir(run, kTask, "real", "densenet-bgt");
  const auto j = descriptor(dir);
  EXPECT_FALSE(j["backbone"]["random"].get<bool>());
  EXPECT_EQ(j["backbone"]["kind"], "backbone-weights");
  EXPECT_EQ(j["backbone"]["file"], fs::absolute(weights).string());
  EXPECT_FALSE(fs::exists(dir / kBgtBackboneFile));
  EXPECT_FALSE(load_bgt_model(dir).random_backbone);

  // Other weights under the same name: the trees no longer fit; refused.
  torch::manual_seed(4);
  models::save_classifier_file(*models::make_classifier(bgt_backbone_options(o.model)), weights);
  const auto msg = message_of([&] { load_bgt_model(dir); });
  EXPECT_NE(msg.find("changed since the trees were fitted"), std::string::npos) << msg;
}

TEST(BgtTraining, TrainedFeatureSourceUsesTheRunsDenseNet) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  write_phantom_run(run, {{"train", 6}, {"val", 2}}, 32, 0.15, 0.3);
  auto o = tiny_bgt();
  o.bgt.trees = 3;
  o.bgt.features = "trained";
  auto msg = message_of([&] { run_train_classifier(o, kTask, "real", 1, run); });
  EXPECT_NE(msg.find("train it first"), std::string::npos) << msg;

  auto cnn = o;
  cnn.model.arch = "densenet";
  cnn.max_epochs = 1;
  cnn.batch_size = 8;
  run_train_classifier(cnn, kTask, "real", 1, run);
  run_train_classifier(o, kTask, "real", 1, run);
  const auto j = descriptor(classifier_output_dir(run, kTask, "real", "densenet-bgt"));
  EXPECT_EQ(j["backbone"]["kind"], "trained");
  EXPECT_EQ(j["backbone"]["file"], "../densenet/model.pt");
  EXPECT_FALSE(j["backbone"]["random"].get<bool>());
}

TEST(BgtTraining, EvaluateAndPredictScoreTheEnsemble) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  write_phantom_run(run, {{"train", 10}, {"val", 3}, {"test", 6}}, 32, 0.15, 0.3);
  auto o = tiny_bgt();
  o.bgt.trees = 5;
  run_train_classifier(o, kTask, "real", 2, run);
  eval::EvaluateOptions eo;
  eo.bootstrap_draws = 20;
  const auto r = eval::run_evaluate(eo, kTask, "real", "densenet-bgt", 2, 1, run);
  EXPECT_EQ(r.n_test, 12);
  const auto out = eval::evaluation_output_dir(run, kTask, "real", "densenet-bgt");
  for (const char* f : {"predictions.csv", "metrics.json", "features.csv", "evaluation.json"}) {
    EXPECT_TRUE(fs::exists(out / f)) << f;
  }
  const auto ev = nlohmann::json::parse(read_file(out / "evaluation.json"));
  EXPECT_EQ(ev["model_metadata"]["random_backbone"], "true");
  EXPECT_EQ(
      ev["model"],
      (classifier_output_dir(run, kTask, "real", "densenet-bgt") / kBgtDescriptorFile).string());
  const auto features = read_csv(out / "features.csv");
  EXPECT_EQ(features.size(), 12u);
  features.require_columns({"f0", "f31"});

  // predict on the folder gives evaluate's probabilities (fractions of 5 votes).
  const auto preds = read_csv(out / "predictions.csv");
  std::vector<fs::path> files;
  const auto data = classifier_data_from_manifest(run, kTask);
  for (const auto& s : data.test) files.push_back(s.path);
  const auto p =
      eval::predict_files(classifier_output_dir(run, kTask, "real", "densenet-bgt"), files, 4);
  ASSERT_EQ(p.size(), preds.size());
  for (std::size_t i = 0; i < p.size(); ++i) {
    EXPECT_NEAR(p[i], std::stod(preds.at(i, "p_covid")), 1e-6);
    EXPECT_NEAR(p[i] * 5, std::round(p[i] * 5), 1e-9);
  }
}

TEST(BgtTraining, TorchvisionDenseNet121ExportIsAFrozenBackbone) {
  // The user's path: scripts/export_torchvision.py writes a torchvision-format DenseNet-121
  // (3-channel first convolution, 1000-class head; randomly initialised here, ImageNet weights
  // for real runs) and densenet121-bgt uses it as its frozen feature extractor.
  constexpr const char* kPython = "/usr/bin/python3";
  if (std::system(
          fmt::format("{} -c 'import torch, torchvision' >/dev/null 2>&1", kPython).c_str()) != 0) {
    GTEST_SKIP() << kPython << " with torch/torchvision not found";
  }
  TempDir tmp;
  const auto weights = tmp / "densenet121-export.pt";
  ASSERT_EQ(std::system(
                fmt::format("{} {} --arch densenet121 --seed 1 --out {} >/dev/null", kPython,
                            (testing::source_dir() / "scripts" / "export_torchvision.py").string(),
                            weights.string())
                    .c_str()),
            0);
  const RunDir run(tmp / "run");
  write_phantom_run(run, {{"train", 4}, {"val", 1}, {"test", 2}}, 32, 0.15, 0.3);
  ClassifierOptions o;
  o.model.arch = "densenet121-bgt";
  o.weights = weights.string();
  o.bgt.trees = 3;
  run_train_classifier(o, kTask, "real", 1, run);
  const auto dir = classifier_output_dir(run, kTask, "real", "densenet121-bgt");
  const auto j = descriptor(dir);
  EXPECT_EQ(j["feature_count"], 1024);
  EXPECT_EQ(j["backbone"]["model"]["arch"], "densenet121");
  EXPECT_FALSE(j["backbone"]["random"].get<bool>());
  EXPECT_NE(j["backbone"]["weights"].get<std::string>().find("densenet121-export.pt"),
            std::string::npos);
  auto model = load_bgt_model(dir);
  const auto data = classifier_data_from_manifest(run, kTask);
  EXPECT_EQ(score_bgt(model, data.test, 4).features.size(1), 1024);
}

TEST(BgtTraining, NetworkFactoryRefusesBgtArchs) {
  auto o = tiny_bgt().model;
  const auto msg = message_of([&] { models::make_classifier(o); });
  EXPECT_NE(msg.find("not a network"), std::string::npos) << msg;
  EXPECT_EQ(bgt_backbone_options(o).arch, "densenet");
  o.arch = "densenet121-bgt";
  EXPECT_EQ(bgt_backbone_options(o).arch, "densenet121");
}

}  // namespace
}  // namespace cxrsynth::train
