// Source readers on fixtures made in a temp dir: label mapping, filters and their counts,
// patient ids, bad CSV rows.
#include "data/sources.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "data/dicom_writer.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

using testing::message_of;
using testing::TempDir;
using testing::write_text;

std::int64_t filtered(const SourceResult& r, const std::string& name) {
  for (const auto& [n, c] : r.filtered) {
    if (n == name) return c;
  }
  return -1;
}

void write_png(const fs::path& p, int value) {
  fs::create_directories(p.parent_path());
  cv::imwrite(p.string(), cv::Mat(20, 24, CV_8UC1, cv::Scalar(value)));
}

const char* kCohenHeader = "patientid,offset,finding,view,modality,folder,filename,notes\n";

TEST(Cohen, MappingFiltersAndCounts) {
  TempDir dir;
  write_text(dir / "metadata.csv", std::string(kCohenHeader) +
                                       "1,0,COVID-19,PA,X-ray,images,a.jpg,\"quoted, with comma\"\n"
                                       "1,2,COVID-19,L,X-ray,images,b.jpg,\n"
                                       "2,,COVID-19,Axial,CT,volumes,c.nii.gz,\n" +
                                       "3,,\"COVID-19, ARDS\",PA,X-ray,images,d.jpg,\n"
                                       "4,,Streptococcus,AP Supine,X-ray,images,e.png,\n"
                                       "5,,No Finding,PA,X-ray,images,f.png,\n"
                                       "6,,todo,PA,X-ray,images,g.png,\n"
                                       "7,,COVID-19,,X-ray,images,h.png,\n");
  CohenOptions o;
  o.root = dir.path().string();
  SourceResult r = read_cohen(o, false);
  EXPECT_EQ(r.input_rows, 8);
  ASSERT_EQ(r.candidates.size(), 2u);  // a.jpg, b.jpg (lateral kept: the authors' filter)
  EXPECT_EQ(r.candidates[0].row.patient_id, "cohen:1");
  EXPECT_EQ(r.candidates[0].row.label, "covid");
  EXPECT_EQ(r.candidates[1].row.view, "L");
  EXPECT_EQ(r.candidates[0].file, dir.path() / "images" / "a.jpg");
  EXPECT_EQ(filtered(r, "empty_fields"), 1);
  EXPECT_EQ(filtered(r, "ct"), 1);
  EXPECT_EQ(filtered(r, "finding"), 4);  // ARDS combo, Streptococcus, No Finding, todo

  o.view = "frontal";
  o.labels = {"covid", "pneumonia", "normal"};
  o.covid_findings = {"COVID-19", "COVID-19, ARDS"};
  r = read_cohen(o, false);
  EXPECT_EQ(filtered(r, "view"), 1);
  EXPECT_EQ(filtered(r, "finding"), 1);  // todo
  ASSERT_EQ(r.candidates.size(), 4u);
  EXPECT_EQ(r.candidates[1].row.subtype, "COVID-19, ARDS");
  EXPECT_EQ(r.candidates[2].row.label, "pneumonia");
  EXPECT_EQ(r.candidates[2].row.subtype, "bacterial/Streptococcus");
  EXPECT_EQ(r.candidates[3].row.label, "normal");
}

TEST(Cohen, CsvErrorsNameFileAndLine) {
  TempDir dir;
  write_text(dir / "metadata.csv", "patientid,finding,view\n1,COVID-19,PA\n");
  CohenOptions o;
  o.root = dir.path().string();
  std::string e = message_of([&] { read_cohen(o, false); });
  EXPECT_NE(e.find("missing column(s) modality, filename"), std::string::npos) << e;
  write_text(dir / "metadata.csv", std::string(kCohenHeader) + "1,0,\"COVID-19,PA,X-ray\n");
  e = message_of([&] { read_cohen(o, false); });
  EXPECT_NE(e.find("metadata.csv"), std::string::npos) << e;
  write_text(dir / "metadata.csv",
             std::string(kCohenHeader) + ",0,COVID-19,PA,X-ray,images,a.jpg,\n");
  e = message_of([&] { read_cohen(o, false); });
  EXPECT_NE(e.find("metadata.csv:2: column patientid"), std::string::npos) << e;
  const SourceResult r = read_cohen(o, /*skip_bad=*/true);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_TRUE(r.candidates.empty());
}

TEST(Rsna, DeduplicatesAndNormalDefinitions) {
  TempDir dir;
  write_text(dir / "stage_2_train_labels.csv",
             "patientId,x,y,width,height,Target\n"
             "p1,,,,,0\n"
             "p2,1,2,3,4,1\n"
             "p2,5,6,7,8,1\n"
             "p3,,,,,0\n"
             "p4,,,,,0\n");
  write_text(dir / "stage_2_detailed_class_info.csv",
             "patientId,class\np1,Normal\np2,Lung Opacity\np3,No Lung Opacity / Not Normal\n");
  RsnaOptions o;
  o.root = dir.path().string();
  SourceResult r = read_rsna(o, false);
  EXPECT_EQ(r.input_rows, 5);
  EXPECT_EQ(filtered(r, "duplicate_patient_rows"), 1);
  EXPECT_EQ(filtered(r, "not_normal_class"), 1);
  EXPECT_EQ(filtered(r, "no_class_info"), 1);
  ASSERT_EQ(r.candidates.size(), 2u);
  EXPECT_EQ(r.candidates[0].row.label, "normal");
  EXPECT_EQ(r.candidates[1].row.label, "pneumonia");
  EXPECT_EQ(r.candidates[1].row.patient_id, "rsna:p2");
  EXPECT_EQ(r.candidates[1].file, dir.path() / "stage_2_train_images" / "p2.dcm");

  o.normal_definition = "target0";  // the authors
  r = read_rsna(o, false);
  ASSERT_EQ(r.candidates.size(), 4u);
  EXPECT_EQ(r.candidates[2].row.label, "normal");
  EXPECT_EQ(r.candidates[2].row.subtype, "No Lung Opacity / Not Normal");

  write_text(dir / "stage_2_train_labels.csv", "patientId,x,y,width,height,Target\np1,,,,,yes\n");
  const std::string e = message_of([&] { read_rsna(o, false); });
  EXPECT_NE(e.find("stage_2_train_labels.csv:2: column Target: expected 0 or 1, got 'yes'"),
            std::string::npos)
      << e;
}

TEST(Folder, LabelFoldersRegexAndCsv) {
  TempDir dir;
  write_png(dir / "imgs" / "Normal" / "P01_a.png", 10);
  write_png(dir / "imgs" / "Normal" / "P01_b.png", 20);
  write_png(dir / "imgs" / "COVID-19" / "P02_a.png", 30);
  write_png(dir / "imgs" / "other" / "x.png", 40);
  FolderOptions o;
  o.root = (dir / "imgs").string();
  SourceResult r = read_folder(o, false);
  EXPECT_EQ(r.input_rows, 4);
  EXPECT_EQ(filtered(r, "not_a_label_folder"), 1);
  ASSERT_EQ(r.candidates.size(), 3u);
  EXPECT_EQ(r.candidates[0].row.label, "covid");  // folders in sorted order
  EXPECT_EQ(r.candidates[1].row.patient_id, "folder:image:Normal/P01_a.png");

  o.patient_regex = "^(P[0-9]+)_";
  r = read_folder(o, false);
  EXPECT_EQ(r.candidates[1].row.patient_id, "folder:P01");
  EXPECT_EQ(r.candidates[2].row.patient_id, "folder:P01");
  EXPECT_EQ(r.candidates[1].row.id, "folder-Normal_P01_a");

  write_text(dir / "imgs" / "labels.csv",
             "path,label,patient_id,subtype\nNormal/P01_a.png,normal,X1,\nCOVID-19/P02_a.png,"
             "COVID-19,X2,sub\nNormal/P01_b.png,cat,X1,\n");
  o.labels_csv = "labels.csv";
  o.patient_regex.clear();
  const std::string e = message_of([&] { read_folder(o, false); });
  EXPECT_NE(e.find("labels.csv:4: column label: 'cat'"), std::string::npos) << e;
  r = read_folder(o, /*skip_bad=*/true);
  EXPECT_EQ(r.input_rows, 3);
  ASSERT_EQ(r.candidates.size(), 2u);
  ASSERT_EQ(r.rejected.size(), 1u);
  EXPECT_EQ(r.candidates[1].row.label, "covid");
  EXPECT_EQ(r.candidates[1].row.patient_id, "folder:X2");
  EXPECT_EQ(r.candidates[1].row.subtype, "sub");
}

}  // namespace
}  // namespace cxrsynth::data
