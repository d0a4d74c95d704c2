// The experiment grid at smoke scale (32 px phantoms, a few GAN steps, one tiny DenseNet, one
// epoch of two steps): every cell of both tables filled with numbers and intervals, the skew of
// each configuration from its actual training set, resume retrains nothing, and the
// synthetic-source split check refuses test-split sources.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <map>
#include <set>
#include <string>

#include "config/config.h"
#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/sha256.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "experiment/experiment.h"
#include "support/temp_dir.h"
#include "support/tiny_gan.h"
#include "synth/engine.h"
#include "train/cyclegan_trainer.h"

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
  testing::make_tiny_gan(c.gan);
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

// Fig. 8 needs G_NC and G_PC beside the real test images: every cell's features.csv carries
// experiment.feature_synthetic images of each synthetic set (origin synthetic:<task>).
TEST(Experiment, FeaturesCsvCarriesBothSyntheticGroups) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  Config cfg = tiny_config();
  cfg.evaluate.features = true;
  cfg.experiment.tasks = {"normal-vs-covid"};
  cfg.experiment.configs = {"real", "real+gnc+gpc"};
  cfg.experiment.feature_synthetic = 5;
  experiment::run_experiment(cfg.experiment, cfg, run);
  for (const auto* cell : {"real", "real+gnc+gpc"}) {
    SCOPED_TRACE(cell);
    const auto t =
        read_csv(run.root() / "eval" / "normal-vs-covid" / cell / "densenet" / "features.csv");
    t.require_columns({"id", "label", "split", "origin", "f0"});
    std::map<std::string, int> by_origin;
    for (std::size_t i = 0; i < t.size(); ++i) {
      ++by_origin[t.at(i, "origin")];
      if (t.at(i, "origin") != "real") {
        EXPECT_EQ(t.at(i, "split"), "extra");
        EXPECT_EQ(t.at(i, "label"), "1");
      } else {
        EXPECT_EQ(t.at(i, "split"), "test");
      }
    }
    EXPECT_EQ(by_origin["synthetic:normal-vs-covid"], 5);
    EXPECT_EQ(by_origin["synthetic:pneumonia-vs-covid"], 5);
    EXPECT_GT(by_origin["real"], 0);
  }
}

std::set<std::string> recorded_checkpoints(const RunDir& run, const std::string& task) {
  const auto t = read_csv(run.synthetic_dir(task) / "manifest.csv");
  std::set<std::string> out;
  for (std::size_t i = 0; i < t.size(); ++i) out.insert(t.at(i, "checkpoint_sha256"));
  return out;
}

// After the CycleGAN is retrained, the synthetic set of the old generator is re-made and every
// cell that trained on it is retrained; cells without synthetic images are kept.
TEST(Experiment, RetrainedGeneratorRemakesSyntheticSetAndItsCells) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  Config cfg = tiny_config();
  cfg.experiment.tasks = {"normal-vs-covid"};
  cfg.experiment.configs = {"real", "real+gnc"};
  const std::string task = "normal-vs-covid";
  experiment::run_experiment(cfg.experiment, cfg, run);
  const auto old_images = read_file(run.synthetic_dir(task) / "manifest.csv");
  const auto generator = run.gan_dir(task) / "generator_ab.pt";
  EXPECT_EQ(recorded_checkpoints(run, task), std::set<std::string>{sha256_file(generator)});

  // Retrain the generator (another seed: other weights).
  fs::remove_all(run.gan_dir(task));
  train::run_train_gan(cfg.gan, task, 99, false, run);
  const auto new_sha = sha256_file(generator);
  EXPECT_NE(recorded_checkpoints(run, task), std::set<std::string>{new_sha});

  const auto again = experiment::run_experiment(cfg.experiment, cfg, run);
  EXPECT_EQ(recorded_checkpoints(run, task), std::set<std::string>{new_sha});
  EXPECT_NE(read_file(run.synthetic_dir(task) / "manifest.csv"), old_images);
  ASSERT_EQ(again.cells.size(), 2u);
  for (const auto& c : again.cells) {
    SCOPED_TRACE(c.config);
    EXPECT_EQ(c.trained_now, c.config == "real+gnc");
  }
  // A third run finds everything current.
  const auto third = experiment::run_experiment(cfg.experiment, cfg, run);
  for (const auto& c : third.cells) EXPECT_FALSE(c.trained_now) << c.config;
}

}  // namespace
}  // namespace cxrsynth
