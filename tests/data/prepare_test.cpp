// The prepare stage end to end on fixtures made in a temp dir: split invariants, determinism,
// undersampling, duplicates, missing and bad inputs, DICOM sources, phantoms.
#include "data/prepare.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/dicom_writer.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/preprocess.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

using testing::message_of;
using testing::TempDir;

// A folder source: `patients[label]` patients with `per_patient` distinct noise images each.
fs::path make_folder(const fs::path& root, const std::map<std::string, int>& patients,
                     int per_patient = 2) {
  std::string csv = "path,label,patient_id\n";
  cv::RNG rng(1234);
  for (const auto& [label, n] : patients) {
    for (int p = 0; p < n; ++p) {
      for (int k = 0; k < per_patient; ++k) {
        cv::Mat m(24, 20, CV_8UC1);
        rng.fill(m, cv::RNG::UNIFORM, 0, 256);
        const std::string rel =
            label + "/" + label + std::to_string(p) + "_" + std::to_string(k) + ".png";
        fs::create_directories(root / label);
        cv::imwrite((root / rel).string(), m);
        csv += rel + "," + label + "," + label + std::to_string(p) + "\n";
      }
    }
  }
  testing::write_text(root / "labels.csv", csv);
  return root;
}

PrepareOptions folder_options(const fs::path& root) {
  PrepareOptions o;
  o.image_size = 32;
  o.gan_per_domain = 5;
  o.folder.enabled = true;
  o.folder.root = root.string();
  o.folder.labels_csv = "labels.csv";
  return o;
}

nlohmann::json summary_of(const RunDir& run) {
  return nlohmann::json::parse(read_file(run.data_summary()));
}

TEST(Prepare, ResizeSquareIsOpenCvsAreaResize) {
  // resize_square's own exact-factor path (8-bit, factor 2 or 4) against cv::resize(INTER_AREA)
  // on noise (every rounding case, ties included) and on flat and extreme images; other sizes
  // and depths go through cv::resize itself.
  cv::RNG rng(99);
  for (const int n : {8, 64, 256}) {
    for (const int k : {2, 3, 4, 5}) {
      for (const int kind : {0, 1, 2, 3}) {
        cv::Mat src(n * k, n * k, CV_8UC1);
        if (kind == 0) rng.fill(src, cv::RNG::UNIFORM, 0, 256);
        if (kind == 1) src.setTo(255);
        if (kind == 2) rng.fill(src, cv::RNG::UNIFORM, 0, 2);  // many exact halves
        if (kind == 3) rng.fill(src, cv::RNG::UNIFORM, 120, 137);
        cv::Mat expected;
        cv::resize(src, expected, cv::Size(n, n), 0, 0, cv::INTER_AREA);
        const cv::Mat got = resize_square(src, n);
        ASSERT_EQ(got.type(), CV_8UC1);
        EXPECT_EQ(cv::norm(got, expected, cv::NORM_INF), 0) << n << " x" << k << " kind " << kind;
      }
    }
  }
  cv::Mat wide(64, 128, CV_8UC1), deep(128, 128, CV_16UC1), expected;
  rng.fill(wide, cv::RNG::UNIFORM, 0, 256);
  rng.fill(deep, cv::RNG::UNIFORM, 0, 65536);
  cv::resize(wide, expected, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
  EXPECT_EQ(cv::norm(resize_square(wide, 32), expected, cv::NORM_INF), 0);
  cv::resize(deep, expected, cv::Size(32, 32), 0, 0, cv::INTER_AREA);
  EXPECT_EQ(cv::norm(resize_square(deep, 32), expected, cv::NORM_INF), 0);
}

TEST(Prepare, GroupedSplitInvariantsAndDeterminism) {
  TempDir dir;
  const fs::path src =
      make_folder(dir / "src", {{"normal", 30}, {"pneumonia", 12}, {"covid", 10}}, 2);
  const PrepareOptions o = folder_options(src);
  const RunDir a(dir / "a"), b(dir / "b"), c(dir / "c");
  run_prepare(o, 7, a, 1);
  run_prepare(o, 7, b, 2);  // thread count must not matter
  run_prepare(o, 8, c, 2);
  const std::string ma = read_file(a.manifest());
  EXPECT_EQ(ma, read_file(b.manifest()));
  EXPECT_NE(ma, read_file(c.manifest()));
  EXPECT_EQ(read_file(a.images_dir() / "folder-covid_covid3_1.png"),
            read_file(b.images_dir() / "folder-covid_covid3_1.png"));

  const auto rows = read_manifest(a.manifest());  // re-checks patient overlap
  ASSERT_EQ(rows.size(), 104u);
  std::map<std::string, std::set<std::string>> splits_of;
  std::map<std::string, std::map<std::string, int>> count;  // label -> split -> images
  for (const auto& r : rows) {
    splits_of[r.patient_id].insert(r.split);
    ++count[r.label][r.split];
    EXPECT_EQ(decode_image(a.data_dir() / r.path).size(), cv::Size(32, 32));
    EXPECT_EQ(r.width, 20);
    EXPECT_EQ(r.height, 24);
  }
  for (const auto& [p, s] : splits_of) EXPECT_EQ(s.size(), 1u) << p;
  // Test round(0.2 n) of each class, val round(0.1 x the rest), within half a patient (2 images).
  EXPECT_NEAR(count["normal"]["test"], 12, 1);
  EXPECT_NEAR(count["normal"]["val"], 5, 1);
  EXPECT_NEAR(count["covid"]["test"], 4, 1);
  EXPECT_NEAR(count["pneumonia"]["test"], 5, 1);
  // GAN subsets: 5 per domain, train only.
  std::map<std::string, int> gan;
  for (const auto& r : rows) {
    for (const auto& t : split_gan_tasks(r.gan_tasks)) {
      EXPECT_EQ(r.split, "train");
      ++gan[t + "/" + r.label];
    }
  }
  EXPECT_EQ(gan["normal-vs-covid/normal"], 5);
  EXPECT_EQ(gan["normal-vs-covid/covid"], 5);
  EXPECT_EQ(gan["pneumonia-vs-covid/pneumonia"], 5);
  EXPECT_EQ(gan["pneumonia-vs-covid/covid"], 5);

  const auto s = summary_of(a);
  EXPECT_EQ(s["total"]["input_rows"], 104);
  EXPECT_EQ(s["total"]["kept"], 104);
  const auto& t = s["tasks"]["normal-vs-covid"];
  EXPECT_DOUBLE_EQ(t["skew_train"].get<double>(),
                   t["train"]["negatives"].get<double>() / t["train"]["positives"].get<double>());
}

TEST(Prepare, PaperSplitIsRowOrder) {
  TempDir dir;
  const fs::path src = make_folder(dir / "src", {{"normal", 10}, {"covid", 5}}, 1);
  PrepareOptions o = folder_options(src);
  o.split = "paper";
  o.val_fraction = 0;
  const RunDir run(dir / "r");
  run_prepare(o, 0, run, 1);
  const auto rows = read_manifest(run.manifest());
  // covid0..4 then normal0..9 (label order in the CSV); first 80% of each label train.
  for (const auto& r : rows) {
    const int k = std::stoi(r.patient_id.substr(r.patient_id.find_first_of("0123456789")));
    const int n = r.label == "covid" ? 5 : 10;
    EXPECT_EQ(r.split, k < n * 8 / 10 ? "train" : "test") << r.id;
  }
}

TEST(Prepare, DuplicatesAcrossPatientsShareASplit) {
  TempDir dir;
  const fs::path src = make_folder(dir / "src", {{"normal", 30}, {"covid", 10}}, 1);
  // normal5's picture re-hosted as covid patient "dup" (e.g. the same image in two collections),
  // re-encoded as JPEG at another size: only the thumbnails match, not the bytes.
  cv::Mat smooth(72, 64, CV_8UC1);
  cv::RNG rng(5);
  rng.fill(smooth, cv::RNG::UNIFORM, 0, 256);
  cv::GaussianBlur(smooth, smooth, cv::Size(0, 0), 6);
  cv::normalize(smooth, smooth, 0, 255, cv::NORM_MINMAX);
  cv::imwrite((src / "normal/normal5_0.png").string(), smooth);
  cv::Mat big;
  cv::resize(smooth, big, cv::Size(128, 144), 0, 0, cv::INTER_CUBIC);
  cv::imwrite((src / "covid/dup.jpg").string(), big, {cv::IMWRITE_JPEG_QUALITY, 90});
  testing::write_text(src / "labels.csv",
                      read_file(src / "labels.csv") + "covid/dup.jpg,covid,dup\n");
  const RunDir run(dir / "r");
  run_prepare(folder_options(src), 3, run, 1);
  const auto rows = read_manifest(run.manifest());
  std::string s1, s2;
  for (const auto& r : rows) {
    if (r.patient_id == "folder:normal5") s1 = r.split;
    if (r.patient_id == "folder:dup") s2 = r.split;
  }
  EXPECT_EQ(s1, s2);
  const auto s = summary_of(run);
  EXPECT_EQ(s["duplicates"]["clusters"], 1);
  EXPECT_EQ(s["duplicates"]["cross_patient"], 1);
}

TEST(Prepare, MissingAndBadImages) {
  TempDir dir;
  const fs::path src = make_folder(dir / "src", {{"normal", 6}, {"covid", 4}}, 1);
  testing::write_text(src / "normal/broken.png", "not a png");
  testing::write_text(src / "normal/empty.png", "");
  const std::string csv = read_file(src / "labels.csv");
  testing::write_text(src / "labels.csv",
                      csv +
                          "normal/broken.png,normal,b1\nnormal/empty.png,normal,b2\n"
                          "normal/gone.png,normal,b3\n");
  PrepareOptions o = folder_options(src);
  const RunDir run(dir / "r");
  std::string e = message_of([&] { run_prepare(o, 0, run, 1); });
  EXPECT_NE(e.find("1 image file(s) listed by the sources do not exist"), std::string::npos) << e;
  EXPECT_NE(e.find("gone.png"), std::string::npos) << e;
  o.skip_missing = true;
  e = message_of([&] { run_prepare(o, 0, run, 1); });
  EXPECT_NE(e.find("labels.csv:12"), std::string::npos) << e;  // the CSV row
  EXPECT_NE(e.find("broken.png"), std::string::npos) << e;     // the file
  o.skip_bad = true;
  run_prepare(o, 0, run, 1);
  const std::string rejected = read_file(run.rejected());
  EXPECT_NE(rejected.find("broken.png"), std::string::npos) << rejected;
  EXPECT_NE(rejected.find("zero-byte"), std::string::npos) << rejected;
  const auto s = summary_of(run);
  EXPECT_EQ(s["sources"]["folder"]["input_rows"], 13);
  EXPECT_EQ(s["sources"]["folder"]["kept"], 10);
  EXPECT_EQ(s["sources"]["folder"]["rejected"], 2);
  EXPECT_EQ(s["sources"]["folder"]["filtered"]["missing_file"], 1);
}

TEST(Prepare, RsnaDicomsWithViewFilterAndSixteenBit) {
  TempDir dir;
  std::string labels = "patientId,x,y,width,height,Target\n", classes = "patientId,class\n";
  for (int i = 0; i < 8; ++i) {
    const std::string pid = "p" + std::to_string(i);
    const bool pneu = i % 2 == 1;
    labels += pid + (pneu ? ",1,1,1,1,1\n" : ",,,,,0\n");
    classes += pid + (pneu ? ",Lung Opacity\n" : ",Normal\n");
    testing::DicomSpec s;
    s.width = 40;
    s.height = 40;
    s.bits_stored = i == 0 ? 12 : 8;
    s.photometric = i == 2 ? "MONOCHROME1" : "MONOCHROME2";
    s.view_position = i < 6 ? "PA" : "AP";
    s.pixels.resize(1600);
    for (int k = 0; k < 1600; ++k)
      s.pixels[k] = static_cast<std::uint16_t>((k * (i + 3)) % (s.bits_stored > 8 ? 4096 : 256));
    s.encoding = i == 3 ? "jpeg-lossless" : "uncompressed";
    fs::create_directories(dir / "rsna/stage_2_train_images");
    testing::write_dicom(dir / "rsna/stage_2_train_images" / (pid + ".dcm"), s);
  }
  testing::write_text(dir / "rsna/stage_2_train_labels.csv", labels);
  testing::write_text(dir / "rsna/stage_2_detailed_class_info.csv", classes);
  PrepareOptions o;
  o.image_size = 32;
  o.rsna.enabled = true;
  o.rsna.root = (dir / "rsna").string();
  o.rsna.view = "PA";
  const RunDir run(dir / "r");
  run_prepare(o, 0, run, 2);
  const auto rows = read_manifest(run.manifest());
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].bit_depth, 12);
  EXPECT_EQ(decode_image(run.data_dir() / rows[0].path).type(), CV_16UC1);
  EXPECT_EQ(decode_image(run.data_dir() / rows[1].path).type(), CV_8UC1);
  EXPECT_EQ(rows[1].view, "PA");
  EXPECT_EQ(summary_of(run)["sources"]["rsna"]["filtered"]["view"], 2);
}

TEST(Prepare, PhantomSource) {
  TempDir dir;
  PrepareOptions o;
  o.image_size = 32;
  o.gan_per_domain = 4;
  o.phantom.enabled = true;
  o.phantom.image_size = 32;
  o.phantom.n_normal = 30;
  o.phantom.n_pneumonia = 12;
  o.phantom.n_covid = 12;
  const RunDir run(dir / "r"), other(dir / "other");
  run_prepare(o, 5, run, 2);
  run_prepare(o, 5, other, 1);
  EXPECT_EQ(read_file(run.manifest()), read_file(other.manifest()));
  const auto rows = read_manifest(run.manifest());
  EXPECT_EQ(rows.size(), 54u);
  EXPECT_EQ(rows.front().original_path.rfind("phantom/", 0), 0u) << rows.front().original_path;
  EXPECT_EQ(rows.front().source, "phantom");
  const auto s = summary_of(run);
  EXPECT_EQ(s["total"]["kept"], 54);
  EXPECT_GT(s["tasks"]["normal-vs-covid"]["skew_train"].get<double>(), 1.0);
}

TEST(Prepare, NoSourceIsAUsageError) {
  TempDir dir;
  EXPECT_THROW(run_prepare(PrepareOptions{}, 0, RunDir(dir / "r")), UsageError);
}

}  // namespace
}  // namespace cxrsynth::data
