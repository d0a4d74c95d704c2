#include "data/manifest.h"

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/tasks.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

using testing::message_of;
using testing::TempDir;

ManifestRow row(const std::string& id, const std::string& patient, const std::string& label,
                const std::string& split) {
  ManifestRow r;
  r.id = id;
  r.source = "folder";
  r.patient_id = patient;
  r.label = label;
  r.split = split;
  r.original_path = "/x/" + id + ".png";
  r.path = "images/" + id + ".png";
  r.width = 10;
  r.height = 12;
  r.bit_depth = 8;
  r.sha256 = "ab";
  return r;
}

TEST(Manifest, RoundTrip) {
  TempDir dir;
  std::vector<ManifestRow> rows = {row("a", "p1", "normal", "train"),
                                   row("b,\"q\"", "p2", "covid", "test")};
  rows[0].gan_tasks = "normal-vs-covid";
  rows[1].view = "AP Supine";
  write_manifest(dir / "m.csv", rows);
  const auto back = read_manifest(dir / "m.csv");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].id, "b,\"q\"");
  EXPECT_EQ(back[1].view, "AP Supine");
  EXPECT_EQ(back[0].height, 12);
  EXPECT_TRUE(in_gan_task(back[0], "normal-vs-covid"));
  EXPECT_FALSE(in_gan_task(back[1], "normal-vs-covid"));
}

TEST(Manifest, RefusesPatientInTwoSplits) {
  TempDir dir;
  const std::vector<ManifestRow> rows = {row("a", "p1", "normal", "train"),
                                         row("b", "p1", "normal", "test")};
  const std::string e = message_of([&] { write_manifest(dir / "m.csv", rows); });
  EXPECT_NE(e.find("p1 (test+train)"), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "m.csv"));
  // A hand-edited manifest is refused on reading too.
  write_file_atomic(dir / "m.csv",
                    "id,source,patient_id,label,subtype,view,split,original_path,path,width,"
                    "height,bit_depth,sha256,gan_tasks\n"
                    "a,f,p1,normal,,,train,o,images/a.png,1,1,8,x,\n"
                    "b,f,p1,covid,,,val,o,images/b.png,1,1,8,x,\n");
  const std::string e2 = message_of([&] { read_manifest(dir / "m.csv"); });
  EXPECT_NE(e2.find("patient leakage"), std::string::npos) << e2;
  EXPECT_NE(e2.find("p1"), std::string::npos) << e2;
}

TEST(Manifest, BadValuesNameFileAndLine) {
  TempDir dir;
  const std::string header =
      "id,source,patient_id,label,subtype,view,split,original_path,path,width,height,bit_depth,"
      "sha256,gan_tasks\n";
  write_file_atomic(dir / "a.csv", header + "a,f,p1,cat,,,train,o,images/a.png,1,1,8,x,\n");
  EXPECT_NE(message_of([&] { read_manifest(dir / "a.csv"); }).find("a.csv:2: column label"),
            std::string::npos);
  write_file_atomic(dir / "b.csv", header + "a,f,p1,covid,,,train,o,images/a.png,wide,1,8,x,\n");
  EXPECT_NE(message_of([&] { read_manifest(dir / "b.csv"); }).find("expected an integer"),
            std::string::npos);
  write_file_atomic(dir / "c.csv", "id,source\na,b\n");
  EXPECT_NE(message_of([&] { read_manifest(dir / "c.csv"); }).find("missing column"),
            std::string::npos);
  write_file_atomic(dir / "d.csv", header + "a,f,p1,covid,,,train,o,images/a.png,1,1,8,x,\n" +
                                       "a,f,p2,covid,,,test,o,images/a.png,1,1,8,x,\n");
  EXPECT_NE(message_of([&] { read_manifest(dir / "d.csv"); }).find("duplicate id 'a'"),
            std::string::npos);
  write_file_atomic(dir / "e.csv", header + "a,f,p1,covid,,,holdout,o,images/a.png,1,1,8,x,\n");
  EXPECT_NE(message_of([&] { read_manifest(dir / "e.csv"); }).find("column split"),
            std::string::npos);
  write_file_atomic(dir / "f.csv", header + "a,f,p1,covid,,,train,o,images/a.png,1,1,8,x,\"oops\n");
  EXPECT_NE(message_of([&] { read_manifest(dir / "f.csv"); }).find("f.csv"), std::string::npos);
}

TEST(Tasks, LookupAndErrors) {
  EXPECT_EQ(find_task("pneumonia-vs-covid").label_a, "pneumonia");
  EXPECT_EQ(find_task("normal-vs-covid").label_b, "covid");
  try {
    find_task("n2c");
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("normal-vs-covid, pneumonia-vs-covid"), std::string::npos);
  }
}

}  // namespace
}  // namespace cxrsynth::data
