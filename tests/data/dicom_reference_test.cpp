// DICOM decoding against pydicom (a committed /usr/bin/python3 script dumps its pixels) and
// against the encodings shipped with Debian's python3-pydicom. Skips when the shared data,
// python or pydicom is absent.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <opencv2/imgcodecs.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "data/image_io.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

using testing::TempDir;

const fs::path kPydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

// Runs the dump script; returns false (with `why`) when python or pydicom is missing.
bool dump_with_pydicom(const fs::path& out, const std::vector<fs::path>& files, std::string& why) {
  if (!fs::exists("/usr/bin/python3")) {
    why = "/usr/bin/python3 not found";
    return false;
  }
  std::string cmd = "/usr/bin/python3 '" +
                    (testing::source_dir() / "tests/data/pydicom_pixels.py").string() + "' '" +
                    out.string() + "'";
  for (const auto& f : files) cmd += " '" + f.string() + "'";
  const int status = std::system(cmd.c_str());
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code == 3) {
    why = "pydicom or numpy not installed for /usr/bin/python3";
    return false;
  }
  EXPECT_EQ(code, 0) << cmd;
  return code == 0;
}

TEST(DicomReference, RsnaJpegBaselineMatchesPydicom) {
  const auto dir = testing::shared_data("rsna-sample");
  if (!dir) GTEST_SKIP() << "../shared/data/rsna-sample not found";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(*dir / "stage_2_train_images")) {
    if (e.path().extension() == ".dcm") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty());
  TempDir tmp;
  std::string why;
  if (!dump_with_pydicom(tmp.path(), files, why)) GTEST_SKIP() << why;
  double worst = 0;
  std::size_t differing = 0, total = 0;
  for (const auto& f : files) {
    const DecodedImage ours = decode_image_info(f);
    const cv::Mat ref =
        cv::imread((tmp.path() / (f.stem().string() + ".pgm")).string(), cv::IMREAD_UNCHANGED);
    ASSERT_FALSE(ref.empty()) << f;
    ASSERT_EQ(ours.pixels.type(), CV_8UC1) << f;
    ASSERT_EQ(ref.type(), CV_8UC1) << f;
    ASSERT_EQ(ours.pixels.size(), ref.size()) << f;
    const double diff = cv::norm(ours.pixels, ref, cv::NORM_INF);
    cv::Mat ne;
    cv::compare(ours.pixels, ref, ne, cv::CMP_NE);
    differing += static_cast<std::size_t>(cv::countNonZero(ne));
    total += ref.total();
    worst = std::max(worst, diff);
    EXPECT_LE(diff, 1.0) << f;
  }
  // The first file cut to 100 kB (mid JPEG stream) is refused with the file named.
  const std::string bytes = read_file(files.front());
  testing::write_text(tmp / "cut.dcm",
                      bytes.substr(0, std::min<std::size_t>(100000, bytes.size() / 2)));
  try {
    decode_image(tmp / "cut.dcm");
    ADD_FAILURE() << "a truncated DICOM decoded";
  } catch (const Error& e) {
    EXPECT_NE(e.full_message().find("cut.dcm: not a readable DICOM file"), std::string::npos)
        << e.full_message();
  }
  std::cout << "RSNA JPEG-baseline DICOMs vs pydicom: " << files.size() << " files, max |diff| "
            << worst << ", " << differing << " of " << total << " pixels differ\n";
}

TEST(DicomReference, PydicomTestFileEncodings) {
  if (!fs::exists(kPydicomFiles / "MR_small.dcm")) {
    GTEST_SKIP() << "python3-pydicom test files not installed";
  }
  // The same MR image in five transfer syntaxes decodes identically (16-bit, windowed).
  const cv::Mat ref = decode_image(kPydicomFiles / "MR_small.dcm");
  ASSERT_EQ(ref.type(), CV_16UC1);
  for (const char* n : {"MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm",
                        "MR_small_bigendian.dcm", "MR_small_implicit.dcm"}) {
    if (!fs::exists(kPydicomFiles / n)) continue;
    const cv::Mat m = decode_image(kPydicomFiles / n);
    EXPECT_EQ(cv::norm(m, ref, cv::NORM_INF), 0) << n;
  }
  // 12-bit JPEG (extended) stays 16-bit.
  for (const char* n : {"JPEG-lossy.dcm", "JPGExtended.dcm"}) {
    if (!fs::exists(kPydicomFiles / n)) continue;
    const DecodedImage d = decode_image_info(kPydicomFiles / n);
    EXPECT_EQ(d.pixels.type(), CV_16UC1) << n;
    EXPECT_EQ(d.bit_depth, 12) << n;
  }
  // Colour RLE becomes one channel.
  if (fs::exists(kPydicomFiles / "SC_rgb_rle.dcm")) {
    EXPECT_EQ(decode_image(kPydicomFiles / "SC_rgb_rle.dcm").type(), CV_8UC1);
  }
  auto error_of = [](const fs::path& p) {
    try {
      decode_image(p);
    } catch (const Error& e) {
      return e.full_message();
    }
    return std::string();
  };
  if (fs::exists(kPydicomFiles / "JPEG2000.dcm")) {
    const std::string e = error_of(kPydicomFiles / "JPEG2000.dcm");
    EXPECT_NE(e.find("JPEG2000.dcm"), std::string::npos) << e;
    EXPECT_NE(e.find("cannot decode transfer syntax"), std::string::npos) << e;
  }
  if (fs::exists(kPydicomFiles / "MR_truncated.dcm")) {
    const std::string e = error_of(kPydicomFiles / "MR_truncated.dcm");
    EXPECT_NE(e.find("MR_truncated.dcm"), std::string::npos) << e;
  }
}

TEST(DicomReference, NihUncompressedWithWrongHeadersDecode) {
  const auto dir = testing::shared_data("nih-dicom-sample");
  if (!dir) GTEST_SKIP() << "../shared/data/nih-dicom-sample not found";
  for (int i = 1; i <= 6; ++i) {
    const fs::path p = *dir / ("test" + std::to_string(i) + ".dcm");
    const DecodedImage d = decode_image_info(p);
    EXPECT_EQ(d.pixels.type(), CV_8UC1) << p;
    EXPECT_EQ(d.pixels.cols, 1024) << p;
    if (i == 5) {
      EXPECT_EQ(d.modality, "CT") << p;  // a deliberately wrong header, reported
    }
  }
}

}  // namespace
}  // namespace cxrsynth::data
