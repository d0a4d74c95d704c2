// `prepare` on the real samples in ../shared/data (skipped when absent): every input row is
// accounted for, no patient is in two splits, and the same seed gives the same manifest.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

using testing::TempDir;

nlohmann::json summary_of(const RunDir& run) {
  return nlohmann::json::parse(read_file(run.data_summary()));
}

void expect_no_overlap(const std::vector<ManifestRow>& rows) {
  std::map<std::string, std::set<std::string>> splits;
  for (const auto& r : rows) splits[r.patient_id].insert(r.split);
  for (const auto& [p, s] : splits) EXPECT_EQ(s.size(), 1u) << p;
}

TEST(PrepareShared, CohenSampleWithSkipMissing) {
  const auto dir = testing::shared_data("cohen-covid-sample");
  if (!dir) GTEST_SKIP() << "../shared/data/cohen-covid-sample not found";
  TempDir tmp;
  PrepareOptions o;
  o.image_size = 64;
  o.cohen.enabled = true;
  o.cohen.root = dir->string();
  o.cohen.labels = {"covid", "pneumonia", "normal"};
  const RunDir run(tmp / "r");
  // Without skip_missing: an error listing the count and the first names.
  try {
    run_prepare(o, 0, run, 2);
    ADD_FAILURE() << "expected an error for missing files";
  } catch (const Error& e) {
    EXPECT_NE(e.full_message().find("do not exist"), std::string::npos) << e.full_message();
  }
  o.skip_missing = true;
  run_prepare(o, 0, run, 2);
  const auto rows = read_manifest(run.manifest());
  expect_no_overlap(rows);
  const auto s = summary_of(run)["sources"]["cohen"];
  EXPECT_EQ(s["input_rows"], 751);
  EXPECT_EQ(s["filtered"]["ct"], 84);
  EXPECT_EQ(s["filtered"]["empty_fields"], 35);
  EXPECT_GT(s["kept"].get<int>(), 20);
  const std::string first = read_file(run.manifest());
  run_prepare(o, 0, RunDir(tmp / "r2"), 1);
  EXPECT_EQ(first, read_file(RunDir(tmp / "r2").manifest()));
}

TEST(PrepareShared, RsnaSampleBothNormalDefinitions) {
  const auto dir = testing::shared_data("rsna-sample");
  if (!dir) GTEST_SKIP() << "../shared/data/rsna-sample not found";
  TempDir tmp;
  PrepareOptions o;
  o.image_size = 64;
  o.skip_missing = true;
  o.rsna.enabled = true;
  o.rsna.root = dir->string();
  const RunDir run(tmp / "r");
  run_prepare(o, 0, run, 2);
  auto s = summary_of(run)["sources"]["rsna"];
  EXPECT_EQ(s["input_rows"], 30227);
  EXPECT_EQ(s["filtered"]["duplicate_patient_rows"], 30227 - 26684);
  const auto rows = read_manifest(run.manifest());
  expect_no_overlap(rows);
  for (const auto& r : rows) {
    EXPECT_EQ(r.bit_depth, 8);
    EXPECT_EQ(r.width, 1024);
    EXPECT_FALSE(r.view.empty());  // from the DICOM ViewPosition
  }
  o.rsna.normal_definition = "target0";
  run_prepare(o, 0, run, 2);
  EXPECT_EQ(read_manifest(run.manifest()).size(), 16u);  // every sample DICOM is a patient
}

TEST(PrepareShared, KermanyThroughFolderSourceWithLabelsCsv) {
  const auto dir = testing::shared_data("kermany-pediatric-224");
  if (!dir) GTEST_SKIP() << "../shared/data/kermany-pediatric-224 not found";
  // Every 25th row of its labels.csv, paths made absolute, keeps the test small.
  const CsvTable t = read_csv(*dir / "labels.csv");
  std::string csv = "path,label,subtype,patient_id\n";
  std::size_t n = 0;
  for (std::size_t i = 0; i < t.size(); i += 25, ++n) {
    csv += csv_line({(*dir / t.at(i, "path")).string(), t.at(i, "label"), t.at(i, "subtype"),
                     t.at(i, "patient_id")});
  }
  TempDir tmp;
  testing::write_text(tmp / "labels.csv", csv);
  PrepareOptions o;
  o.image_size = 64;
  o.folder.enabled = true;
  o.folder.root = tmp.path().string();
  o.folder.labels_csv = "labels.csv";
  o.folder.name = "kermany";
  const RunDir run(tmp / "r");
  run_prepare(o, 0, run, 2);
  const auto rows = read_manifest(run.manifest());
  EXPECT_EQ(rows.size(), n);
  expect_no_overlap(rows);
  const auto s = summary_of(run);
  EXPECT_GT(s["splits"]["test"]["pneumonia"].get<int>(), 0);
  EXPECT_GT(s["splits"]["test"]["normal"].get<int>(), 0);
}

}  // namespace
}  // namespace cxrsynth::data
