// The experiment grid at smoke scale (32 px phantoms, a few GAN steps, one tiny DenseNet, one
// epoch of two steps): every cell of both tables filled with numbers and intervals, the skew of
// each configuration from its actual training set, resume retrains nothing, and the
// synthetic-source split check refuses test-split sources.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <string>

#include "config/config.h"
#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "experiment/experiment.h"
#include "support/temp_dir.h"
#include "synth/engine.h"

namespace cxrsynth {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

Config tiny_config() {
  Config c;
  c.run.seed = 3;
  c.run.threads = 1;
  c.data.image_size = 32;
  c.data.gan_per_domain = 12;
  c.data.phantom.enabled = true;
  c.data.phantom.image_size = 32;
  c.data.phantom.n_normal = 60;
  c.data.phantom.n_pneumonia = 30;
  c.data.phantom.n_covid = 30;
  auto& g = c.gan;
  g.generator.arch = "resnet";
  g.generator.filters = 4;
  g.generator.blocks = 1;
  g.generator.upsample = "resize-conv";
  g.generator.residual = true;
  g.discriminator.arch = "patchgan";
  g.discriminator.filters = 4;
  g.discriminator.layers = 2;
  g.init = "normal";
  g.batch_size = 2;
  g.epochs = 1;
  g.steps_per_epoch = 3;
  g.load_size = 32;
  g.crop_size = 32;
  g.checkpoint_every = 100;
  g.sample_every = 0;
  g.samples = 1;
  c.synth.batch_size = 8;
  c.synth.workers = 1;
  auto& k = c.classifier;
  k.model.arch = "densenet";
  k.model.densenet_growth_rate = 4;
  k.model.densenet_block_config = {1, 1};
  k.model.densenet_init_features = 8;
  k.model.densenet_bn_size = 1;
  k.batch_size = 8;
  k.max_epochs = 1;
  k.steps_per_epoch = 2;
  k.lr = 1.0;
  c.evaluate.bootstrap_draws = 50;
  c.evaluate.features = false;
  c.experiment.models = {"densenet"};
  c.experiment.print = false;
  return c;
}

std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& sub : {"classifiers", "eval"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / sub)) {
      if (e.is_regular_file()) files[fs::relative(e.path(), root).string()] = read_file(e.path());
    }
  }
  return files;
}

TEST(Experiment, SmokeGridFillsEveryCellAndResumesWithoutRetraining) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  const Config cfg = tiny_config();
  const auto result = experiment::run_experiment(cfg.experiment, cfg, run);

  // Both tables: real, own synthetic, both synthetic, synthetic only, two cheap alternatives.
  ASSERT_EQ(result.cells.size(), 12u);
  const auto j = nlohmann::json::parse(read_file(run.root() / "experiment" / "tables.json"));
  ASSERT_EQ(j.at("cells").size(), 12u);
  std::map<std::string, int> per_task;
  for (const auto& c : j.at("cells")) {
    ++per_task[c.at("task").get<std::string>()];
    for (const auto* m : {"sensitivity", "specificity", "roc_auc", "balanced_accuracy"}) {
      SCOPED_TRACE(c.at("task").get<std::string>() + " " + c.at("config").get<std::string>() + " " +
                   m);
      ASSERT_TRUE(c.at(m).at("value").is_number());
      ASSERT_TRUE(c.at(m).at("ci_lo").is_number());
      ASSERT_TRUE(c.at(m).at("ci_hi").is_number());
      EXPECT_LE(c.at(m).at("ci_lo").get<double>(), c.at(m).at("ci_hi").get<double>());
    }
    EXPECT_GE(c.at("fn").get<int>(), 0);
    EXPECT_NE(c.at("model").get<std::string>().find("DenseNet"), std::string::npos);
    EXPECT_EQ(c.at("model").get<std::string>().find("102"), std::string::npos);
  }
  EXPECT_EQ(per_task["normal-vs-covid"], 6);
  EXPECT_EQ(per_task["pneumonia-vs-covid"], 6);

  // Skew from the actual training sets.
  std::map<std::string, const experiment::CellResult*> nvc;
  for (const auto& c : result.cells)
    if (c.task == "normal-vs-covid") nvc[c.config] = &c;
  ASSERT_EQ(nvc.count("real+gnc"), 1u);
  const auto& real = *nvc.at("real");
  const auto& gnc = *nvc.at("real+gnc");
  EXPECT_DOUBLE_EQ(real.skew, static_cast<double>(real.train_negatives) / real.train_positives);
  EXPECT_EQ(gnc.train_positives, real.train_positives + gnc.train_synthetic);
  EXPECT_GT(gnc.train_synthetic, 0);
  EXPECT_LT(gnc.skew, real.skew);
  EXPECT_EQ(nvc.at("real-oversampled")->train_positives, gnc.train_positives);
  EXPECT_EQ(nvc.at("synthetic-only")->train_positives, gnc.train_synthetic);
  EXPECT_EQ(nvc.at("real-weighted")->skew, real.skew);
  EXPECT_FALSE(gnc.verdict.empty());

  const auto md = read_file(run.root() / "experiment" / "tables.md");
  EXPECT_NE(md.find("Table 1: Normal vs COVID-19"), std::string::npos);
  EXPECT_NE(md.find("Table 2: Pneumonia vs COVID-19"), std::string::npos);
  EXPECT_NE(md.find("Real+G_PC+G_NC"), std::string::npos);
  EXPECT_EQ(md.find(" - |"), std::string::npos) << md;  // no empty cell
  EXPECT_TRUE(fs::exists(run.root() / "experiment" / "tables.csv"));

  // Resume: nothing retrained, cell outputs byte-identical.
  const auto before = snapshot(run.root());
  const auto again = experiment::run_experiment(cfg.experiment, cfg, run);
  for (const auto& c : again.cells) EXPECT_FALSE(c.trained_now) << c.task << " " << c.config;
  EXPECT_EQ(snapshot(run.root()), before);
  EXPECT_EQ(read_file(run.root() / "experiment" / "tables.md"), md);
}

TEST(Experiment, RefusesSyntheticImagesMadeFromTestSplitSources) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  Config cfg = tiny_config();
  run.create();
  data::run_prepare(cfg.data, 3, run, 1);
  const auto rows = data::read_manifest(run.manifest());
  const data::ManifestRow* train_row = nullptr;
  const data::ManifestRow* test_row = nullptr;
  for (const auto& r : rows) {
    if (r.label != "normal") continue;
    if (r.split == "train" && train_row == nullptr) train_row = &r;
    if (r.split == "test" && test_row == nullptr) test_row = &r;
  }
  ASSERT_NE(train_row, nullptr);
  ASSERT_NE(test_row, nullptr);
  const auto dir = run.synthetic_dir("normal-vs-covid");
  const auto row = [](const data::ManifestRow& r, const std::string& id, const std::string& split) {
    return csv_line({id, r.id, r.patient_id, split, "a2b", "x", "y", "images/" + id + ".png", "z"});
  };
  const auto header = csv_line(synth::synthetic_manifest_columns());

  // A clean manifest is accepted.
  write_file_atomic(dir / "manifest.csv", header + row(*train_row, "gnc-000000", "train"));
  EXPECT_EQ(experiment::load_synthetic_positives(run, "normal-vs-covid").size(), 1u);

  // A test-split source, declared as such or disguised as train, is refused.
  for (const auto* declared : {"test", "train"}) {
    write_file_atomic(dir / "manifest.csv", header + row(*train_row, "gnc-000000", "train") +
                                                row(*test_row, "gnc-000001", declared));
    try {
      experiment::load_synthetic_positives(run, "normal-vs-covid");
      FAIL() << "a synthetic image made from test source " << test_row->id << " was accepted";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(test_row->id), std::string::npos) << what;
      EXPECT_NE(what.find("test"), std::string::npos) << what;
      EXPECT_NE(what.find("TRAIN-split"), std::string::npos) << what;
    }
  }
}

}  // namespace
}  // namespace cxrsynth
