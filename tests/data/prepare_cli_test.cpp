// `cxrsynth prepare` through the binary: exit codes and messages for bad input.
#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/run_dir.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

using testing::run_cli;
using testing::TempDir;

TEST(PrepareCli, NoSourceIsAUsageError) {
  TempDir dir;
  const auto r = run_cli("prepare --run-dir '" + (dir / "r").string() + "'");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("no data source enabled"), std::string::npos) << r.output;
}

TEST(PrepareCli, BadCsvNamesFileAndLine) {
  TempDir dir;
  testing::write_text(dir / "rsna/stage_2_train_labels.csv",
                      "patientId,x,y,width,height,Target\np1,,,,,0\np2,,,,,maybe\n");
  testing::write_text(dir / "rsna/stage_2_detailed_class_info.csv", "patientId,class\n");
  const auto r = run_cli(
      "prepare --run-dir '" + (dir / "r").string() +
      "' --set data.rsna.enabled=true --set 'data.rsna.root=" + (dir / "rsna").string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("stage_2_train_labels.csv:3: column Target"), std::string::npos)
      << r.output;
}

TEST(PrepareCli, SmokePresetWithSkipFlags) {
  TempDir dir;
  const RunDir run(dir / "r");
  const auto r = run_cli("prepare --run-dir '" + run.root().string() + "' --config '" +
                         (testing::source_dir() / "configs/smoke.json").string() +
                         "' --set data.phantom.n_normal=12 --set data.phantom.n_pneumonia=6 "
                         "--set data.phantom.n_covid=6 --skip-missing --skip-bad");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("skew"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(run.manifest()));
  EXPECT_TRUE(fs::exists(run.data_summary()));
  EXPECT_NE(read_file(run.config_json()).find("\"skip_bad\": true"), std::string::npos);
}

}  // namespace
}  // namespace cxrsynth::data
