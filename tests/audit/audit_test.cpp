// The audit stage on tiny phantom runs (32 px): a planted copy of a COVID-19 training image is
// flagged as possible memorization, outputs are byte-identical across runs, planted PHI fails
// the check, and the audit runs on a run made by the real stages (prepare, train-gan,
// synthesize, train-classifier).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <opencv2/core.hpp>

#include "audit/audit.h"
#include "config/config.h"
#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/seed.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "models/classifiers/weights_io.h"
#include "support/temp_dir.h"
#include "support/tiny_gan.h"
#include "synth/synthesize.h"
#include "train/classifier/classifier_trainer.h"
#include "train/cyclegan_trainer.h"

namespace cxrsynth::audit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::TempDir;

const char* kTask = "normal-vs-covid";

Config tiny_config() {
  Config c;
  c.run.seed = 5;
  c.run.threads = 1;
  c.data.image_size = 32;
  c.data.gan_per_domain = 12;
  c.data.phantom.enabled = true;
  c.data.phantom.image_size = 32;
  c.data.phantom.n_normal = 36;
  c.data.phantom.n_pneumonia = 18;
  c.data.phantom.n_covid = 30;
  auto& k = c.classifier;
  k.model.arch = "densenet";
  k.model.densenet_growth_rate = 4;
  k.model.densenet_block_config = {1, 1};
  k.model.densenet_init_features = 8;
  k.model.densenet_bn_size = 1;
  k.image_size = 32;
  k.batch_size = 8;
  k.max_epochs = 1;
  k.steps_per_epoch = 2;
  k.lr = 1.0;
  c.audit.bootstrap_draws = 30;
  return c;
}

// Prepared phantoms, a fake synthetic set (each Normal training image dimmed plus noise: close
// to its own source, as a CycleGAN output is) and a randomly initialised tiny classifier under
// classifiers/<task>/real/densenet/. Returns the synthetic folder.
fs::path make_run(const RunDir& run, const Config& cfg) {
  run.create();
  data::run_prepare(cfg.data, 5, run, 1);
  const auto rows = data::read_manifest(run.manifest());
  const auto dir = run.synthetic_dir(kTask);
  std::string csv = csv_line({"id", "source_id", "source_patient_id", "source_split", "direction",
                              "checkpoint_sha256", "options_hash", "path", "output_sha256"});
  Rng rng(9);
  int n = 0;
  for (const auto& r : rows) {
    if (r.label != "normal" || r.split != "train") continue;
    cv::Mat img = data::decode_image(data::image_path(run.data_dir(), r));
    cv::Mat out(img.rows, img.cols, CV_8UC1);
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x) {
        const double v = (img.depth() == CV_16U ? img.at<std::uint16_t>(y, x) / 257.0
                                                : img.at<std::uint8_t>(y, x));
        out.at<std::uint8_t>(y, x) =
            cv::saturate_cast<std::uint8_t>(0.8 * v + 30 + 3 * rng.normal());
      }
    const auto id = fmt::format("gnc-{:06d}", n++);
    data::write_png_atomic(dir / "images" / (id + ".png"), out);
    csv +=
        csv_line({id, r.id, r.patient_id, "train", "a2b", "c", "o", "images/" + id + ".png", "s"});
  }
  write_file_atomic(dir / "manifest.csv", csv);
  torch::manual_seed(1);
  auto net = models::make_classifier(cfg.classifier.model);
  const auto model_dir = train::classifier_output_dir(run, kTask, "real", "densenet");
  fs::create_directories(model_dir);
  models::save_classifier_file(*net, model_dir / "model.pt", {{"image_size", "32"}});
  return dir;
}

// Copies the first COVID-19 training image into the synthetic set as a "synthetic" output.
std::string plant_copy(const RunDir& run, const fs::path& dir) {
  for (const auto& r : data::read_manifest(run.manifest())) {
    if (r.label != "covid" || r.split != "train") continue;
    fs::copy_file(data::image_path(run.data_dir(), r), dir / "images" / "gnc-009999.png");
    auto csv = read_file(dir / "manifest.csv");
    csv += csv_line({"gnc-009999", "phantom-normal_planted", "phantom:planted", "train", "a2b", "c",
                     "o", "images/gnc-009999.png", "s"});
    write_file_atomic(dir / "manifest.csv", csv);
    return r.id;
  }
  ADD_FAILURE() << "no COVID-19 training image";
  return "";
}

std::map<std::string, std::string> outputs(const RunDir& run) {
  std::map<std::string, std::string> out;
  for (const auto* f : {"nearest.csv", "baseline.csv", "phi.csv", "audit.json"})
    out[f] = read_file(audit_output_dir(run, kTask) / f);
  return out;
}

TEST(Audit, FlagsAPlantedCopyOfACovidTrainingImageAndIsDeterministic) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  const auto cfg = tiny_config();
  const auto dir = make_run(run, cfg);
  const auto copied = plant_copy(run, dir);

  const auto r = run_audit(cfg.audit, kTask, 5, 1, run);
  EXPECT_EQ(r.classifier, "real/densenet");
  EXPECT_TRUE(r.phi_passed);
  EXPECT_GE(r.flagged, 1);
  const auto t = read_csv(audit_output_dir(run, kTask) / "nearest.csv");
  ASSERT_EQ(static_cast<std::int64_t>(t.size()), r.synthetic);
  std::int64_t own = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t.at(i, "synthetic_id") == "gnc-009999") {
      EXPECT_EQ(t.at(i, "pixel_target_id"), copied);
      EXPECT_EQ(t.at(i, "feature_target_id"), copied);
      EXPECT_EQ(t.get_double(i, "pixel_target_distance"), 0.0);
      EXPECT_EQ(t.at(i, "possible_memorization"), "1");
    } else {
      own += t.at(i, "pixel_nearest_is_own_source") == "1";
    }
  }
  // Every other output is nearest to its own source (the dimmed copy of it).
  EXPECT_EQ(own, r.synthetic - 1);
  EXPECT_LT(r.flagged, r.synthetic / 4) << "the fake outputs are not copies of COVID-19 images";

  const auto j = json::parse(read_file(audit_output_dir(run, kTask) / "audit.json"));
  EXPECT_EQ(j.at("schema"), "cxrsynth.audit/1");
  EXPECT_EQ(j.at("memorization").at("closest_pairs").at(0).at("synthetic_id"), "gnc-009999");
  EXPECT_TRUE(j.at("memorization").at("closest_pairs").at(0).at("possible_memorization"));
  EXPECT_NE(j.at("memorization").at("note").get<std::string>().find("OWN source"),
            std::string::npos);
  const auto& fk = j.at("fid_kid").at("synthetic_vs_real_test");
  EXPECT_LE(fk.at("fid").at("ci_lo").get<double>(), fk.at("fid").at("ci_hi").get<double>());
  EXPECT_GE(fk.at("fid").at("value").get<double>(), 0.0);
  EXPECT_FALSE(fk.at("warnings").empty());  // a tiny sample
  EXPECT_NE(j.at("fid_kid").at("feature_space").get<std::string>().find("not Inception"),
            std::string::npos);

  const auto first = outputs(run);
  run_audit(cfg.audit, kTask, 5, 1, run);
  EXPECT_EQ(outputs(run), first);
}

TEST(Audit, PlantedPhiFailsTheCheck) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  auto cfg = tiny_config();
  cfg.audit.bootstrap_draws = 2;
  const auto dir = make_run(run, cfg);
  // A patient id in a file name: the source image of gnc-000000 is phantom patient PH...
  const auto t = read_csv(dir / "manifest.csv");
  const auto patient = t.at(0, "source_patient_id");
  const auto raw = patient.substr(patient.find(':') + 1);
  fs::copy_file(dir / "images" / "gnc-000000.png", dir / "images" / ("gnc-" + raw + ".png"));
  const auto r = run_audit(cfg.audit, kTask, 5, 1, run);
  EXPECT_FALSE(r.phi_passed);
  EXPECT_EQ(r.phi_failures, 1);
  const auto phi = read_csv(audit_output_dir(run, kTask) / "phi.csv");
  bool found = false;
  for (std::size_t i = 0; i < phi.size(); ++i) {
    if (phi.at(i, "item") == "images/gnc-" + raw + ".png") {
      found = true;
      EXPECT_EQ(phi.at(i, "status"), "fail");
    }
  }
  EXPECT_TRUE(found);
  const auto j = json::parse(read_file(audit_output_dir(run, kTask) / "audit.json"));
  EXPECT_FALSE(j.at("phi").at("passed").get<bool>());
}

TEST(Audit, WithoutAClassifierReportsPixelSpaceAndSaysWhy) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  auto cfg = tiny_config();
  const auto dir = make_run(run, cfg);
  fs::remove_all(run.root() / "classifiers");
  const auto r = run_audit(cfg.audit, kTask, 5, 1, run);
  EXPECT_TRUE(r.classifier.empty());
  EXPECT_FALSE(r.has_fid_kid);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("no classifier"), std::string::npos);
  cfg.audit.classifier = "real/vgg16";
  EXPECT_THROW(run_audit(cfg.audit, kTask, 5, 1, run), Error);
  cfg.audit.classifier = "vgg16";
  EXPECT_THROW(run_audit(cfg.audit, kTask, 5, 1, run), UsageError);
  fs::remove(dir / "manifest.csv");
  cfg.audit.classifier = "";
  EXPECT_NE(testing::message_of([&] {
              run_audit(cfg.audit, kTask, 5, 1, run);
            }).find("cxrsynth synthesize"),
            std::string::npos);
}

TEST(Audit, RunsOnARunMadeByTheRealStages) {
  TempDir tmp;
  const RunDir run(tmp / "run");
  auto cfg = tiny_config();
  testing::make_tiny_gan(cfg.gan);
  cfg.synth.batch_size = 8;
  cfg.synth.workers = 1;
  run.create();
  data::run_prepare(cfg.data, 5, run, 1);
  train::run_train_gan(cfg.gan, kTask, 5, false, run);
  synth::run_synthesize(cfg.synth, kTask, run);
  train::run_train_classifier(cfg.classifier, kTask, "real", 5, run);

  const auto r = run_audit(cfg.audit, kTask, 5, 1, run);
  EXPECT_TRUE(r.phi_passed);
  EXPECT_TRUE(r.has_fid_kid);
  EXPECT_GT(r.synthetic, 0);
  EXPECT_TRUE(std::isfinite(r.fid_kid.fid.value));
  EXPECT_TRUE(std::isfinite(r.fid_kid_real.kid.value));
  const auto summary = format_audit_summary(r);
  EXPECT_NE(summary.find("FID"), std::string::npos) << summary;
  EXPECT_NE(summary.find("PHI: pass"), std::string::npos) << summary;
  const auto phi = read_csv(audit_output_dir(run, kTask) / "phi.csv");
  EXPECT_GT(phi.size(), static_cast<std::size_t>(r.synthetic));  // every image + manifest columns
}

}  // namespace
}  // namespace cxrsynth::audit
