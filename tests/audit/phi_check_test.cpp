// The PHI check: clean PNGs pass; planted text chunks (tEXt, iTXt), data after IEND, a DICOM
// output, a patient id in a file name or in a non-provenance manifest column fail; provenance
// columns are notes; short ids match only as whole tokens.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>

#include "audit/phi_check.h"
#include "core/atomic_file.h"
#include "core/csv.h"
#include "data/image_io.h"
#include "support/temp_dir.h"

namespace cxrsynth::audit {
namespace {

using testing::TempDir;

std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (const unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return c ^ 0xFFFFFFFFu;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string clean_png(const fs::path& path) {
  cv::Mat m(8, 8, CV_8UC1, cv::Scalar(100));
  data::write_png_atomic(path, m);
  return read_file(path);
}

// The PNG with a chunk inserted before IEND (the last 12 bytes).
std::string with_chunk(const std::string& png, const std::string& type, const std::string& data) {
  const std::string chunk =
      be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc32(type + data));
  return png.substr(0, png.size() - 12) + chunk + png.substr(png.size() - 12);
}

std::vector<data::ManifestRow> data_rows() {
  std::vector<data::ManifestRow> rows(3);
  rows[0].id = "phantom-covid_PH200003_1";
  rows[0].patient_id = "phantom:PH200003";
  rows[1].id = "cohen-000019-2";
  rows[1].patient_id = "cohen:19";
  rows[2].id = "rsna-0004cfab-14fd-4e49-80ba-63a80b6bddd6";
  rows[2].patient_id = "rsna:0004cfab-14fd-4e49-80ba-63a80b6bddd6";
  return rows;
}

TEST(PhiCheck, CleanPngPassesAndPlantedChunksFail) {
  TempDir tmp;
  const auto png = clean_png(tmp / "a.png");
  for (const auto& t : png_chunk_types(png, "a.png")) {
    EXPECT_TRUE(t == "IHDR" || t == "IDAT" || t == "IEND" || t == "pHYs" || t == "sBIT") << t;
  }
  EXPECT_EQ(image_metadata_problems(tmp / "a.png"), "");

  write_file_atomic(tmp / "t.png", with_chunk(png, "tEXt", std::string("Patient\0Jane Doe", 16)));
  const auto t = image_metadata_problems(tmp / "t.png");
  EXPECT_NE(t.find("tEXt"), std::string::npos) << t;
  EXPECT_NE(t.find("Patient"), std::string::npos) << t;

  write_file_atomic(tmp / "i.png", with_chunk(png, "iTXt", std::string("Comment\0\0\0\0\0x", 13)));
  EXPECT_NE(image_metadata_problems(tmp / "i.png").find("iTXt"), std::string::npos);
  write_file_atomic(tmp / "e.png", with_chunk(png, "eXIf", "MM\0*"));
  EXPECT_NE(image_metadata_problems(tmp / "e.png").find("eXIf"), std::string::npos);

  write_file_atomic(tmp / "tail.png", png + "PatientName=Doe");
  EXPECT_NE(image_metadata_problems(tmp / "tail.png").find("after the IEND"), std::string::npos);
  write_file_atomic(tmp / "cut.png", png.substr(0, png.size() - 20));
  EXPECT_NE(image_metadata_problems(tmp / "cut.png").find("malformed PNG"), std::string::npos);

  write_file_atomic(tmp / "x.dcm", std::string(128, '\0') + "DICM" + std::string(64, '\0'));
  EXPECT_NE(image_metadata_problems(tmp / "x.dcm").find("DICOM"), std::string::npos);
}

TEST(PhiCheck, IdentifiersMatchAsTokensOrLongSubstrings) {
  const IdentifierMatcher m(data_rows());
  EXPECT_FALSE(m.find("images/gnc-000019.png"));  // patient "19" is not inside "000019"
  EXPECT_EQ(m.find("gnc-19.png").value_or(""), "19");
  EXPECT_EQ(m.find("out_ph200003.png").value_or(""), "ph200003");  // case-insensitive
  EXPECT_TRUE(m.find("x0004cfab-14fd-4e49-80ba-63a80b6bddd6y"));
  EXPECT_FALSE(m.find("gnc-000000"));
}

TEST(PhiCheck, SyntheticFolderReportsNamesManifestAndProvenance) {
  TempDir tmp;
  const auto dir = tmp / "synthetic";
  const auto png = clean_png(dir / "images" / "gnc-000000.png");
  write_file_atomic(dir / "images" / "gnc-000001.png", png);
  write_file_atomic(dir / "journal" / "shard-0-of-1.csv", "x\n");
  write_file_atomic(
      dir / "manifest.csv",
      csv_line({"id", "source_id", "source_patient_id", "path"}) +
          csv_line({"gnc-000000", "cohen-000019-2", "cohen:19", "images/gnc-000000.png"}) +
          csv_line({"gnc-000001", "phantom-covid_PH200003_1", "phantom:PH200003",
                    "images/gnc-000001.png"}));
  auto report = check_phi(dir, data_rows());
  EXPECT_TRUE(report.passed());
  EXPECT_EQ(report.files_checked, 4);
  EXPECT_EQ(report.notes, 3);  // two provenance columns, the journal

  // A patient id in a file name, a text chunk, an id in the manifest's id column.
  write_file_atomic(dir / "images" / "gnc-PH200003.png", png);
  write_file_atomic(dir / "images" / "gnc-000002.png",
                    with_chunk(png, "tEXt", std::string("Source\0cohen:19", 15)));
  write_file_atomic(dir / "manifest.csv",
                    csv_line({"id", "source_id", "source_patient_id", "path"}) +
                        csv_line({"gnc-19", "cohen-000019-2", "cohen:19", "images/gnc-19.png"}));
  report = check_phi(dir, data_rows());
  EXPECT_FALSE(report.passed());
  std::map<std::string, std::string> status;
  for (const auto& f : report.findings) status[f.item] = f.status;
  EXPECT_EQ(status["images/gnc-PH200003.png"], "fail");
  EXPECT_EQ(status["images/gnc-000002.png"], "fail");
  EXPECT_EQ(status["images/gnc-000000.png"], "pass");
  EXPECT_EQ(status["manifest.csv:id"], "fail");
  EXPECT_EQ(status["manifest.csv:path"], "fail");
  EXPECT_EQ(status["manifest.csv:source_patient_id"], "note");
  EXPECT_EQ(report.failures, 4);

  write_phi_csv(tmp / "phi.csv", report);
  const auto t = read_csv(tmp / "phi.csv");
  EXPECT_EQ(t.header(), (std::vector<std::string>{"item", "check", "status", "detail"}));
  EXPECT_EQ(t.size(), report.findings.size());
}

}  // namespace
}  // namespace cxrsynth::audit
