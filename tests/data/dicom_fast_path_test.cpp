// The decoding fast paths against the general paths, bit for bit:
// - DICOM (8-bit grey files whose rendering is their stored values: uncompressed ones copied,
//   JPEG-baseline frames decoded by libjpeg-turbo) against DCMTK's decoders and DicomImage, on
//   synthetic files, the shared RSNA and NIH samples and python3-pydicom's test files;
// - JPEG (libjpeg-turbo straight to BGR) against cv::imdecode + the grey conversion, on
//   synthetic JPEGs (grey, colour 4:2:0, progressive) and the shared Cohen and Kermany
//   samples;
// - reading once (decode_image_info with a hash: DICOMs parsed from memory) against decoding
//   from the path and hashing the file separately, good and bad files alike.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <string>

#include "core/error.h"
#include "core/sha256.h"
#include "data/dicom.h"
#include "data/dicom_writer.h"
#include "data/image_io.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

using testing::DicomSpec;
using testing::TempDir;
using testing::write_dicom;

// A width x height file of `encoding`, pixels left to the caller (sized).
DicomSpec sized_spec(int width, int height, const char* encoding) {
  DicomSpec s;
  s.width = width;
  s.height = height;
  s.encoding = encoding;
  s.pixels.resize(static_cast<std::size_t>(width) * height);
  return s;
}

// Both paths give the same image (or both fail); returns false when the general path fails.
bool expect_same(const fs::path& p) {
  DecodedImage general;
  try {
    general = decode_dicom(p, /*allow_fast_path=*/false);
  } catch (const Error&) {
    EXPECT_THROW(decode_dicom(p, true), Error) << p;
    return false;
  }
  const DecodedImage fast = decode_dicom(p, true);
  EXPECT_EQ(fast.pixels.type(), general.pixels.type()) << p;
  EXPECT_EQ(fast.pixels.size(), general.pixels.size()) << p;
  EXPECT_EQ(fast.bit_depth, general.bit_depth) << p;
  EXPECT_EQ(fast.view, general.view) << p;
  EXPECT_EQ(fast.modality, general.modality) << p;
  if (fast.pixels.type() == general.pixels.type() && fast.pixels.size() == general.pixels.size()) {
    EXPECT_EQ(cv::norm(fast.pixels, general.pixels, cv::NORM_INF), 0) << p;
  }
  return true;
}

TEST(DicomFastPath, SyntheticFilesMatchTheGeneralPath) {
  TempDir dir;
  int n = 0;
  for (const char* enc : {"uncompressed", "jpeg-baseline", "jpeg-lossless", "rle"}) {
    for (const char* photometric : {"MONOCHROME2", "MONOCHROME1"}) {
      for (int variant = 0; variant < 4; ++variant) {
        DicomSpec s = sized_spec(40, 24, enc);
        s.photometric = photometric;
        for (std::size_t i = 0; i < s.pixels.size(); ++i)
          s.pixels[i] = static_cast<std::uint16_t>((i * 37 + i / 40 * 11) % 256);
        if (variant == 1) {  // identity rescale: still the fast path
          s.slope = 1.0;
          s.intercept = 0.0;
        } else if (variant == 2) {  // a real rescale: the general path
          s.slope = 0.5;
          s.intercept = 10.0;
        } else if (variant == 3) {  // a window: the general path
          s.window_center = 100;
          s.window_width = 120;
        }
        const fs::path p = dir / ("f" + std::to_string(n++) + ".dcm");
        write_dicom(p, s);
        const std::uint64_t before = dicom_fast_path_decodes();
        EXPECT_TRUE(expect_same(p)) << enc << " " << photometric << " " << variant;
        // DCMTK's lossy encoder applies a rescale to the pixels it compresses (the written
        // file has none), so only the uncompressed variant 2 must leave the fast path.
        const bool uncompressed = std::string(enc) == "uncompressed";
        const bool fast = variant <= 1 && (uncompressed || std::string(enc) == "jpeg-baseline");
        if (fast || uncompressed || variant == 3) {
          EXPECT_EQ(dicom_fast_path_decodes() - before, fast ? 1u : 0u)
              << enc << " " << photometric << " " << variant;
        }
      }
    }
  }
}

TEST(DicomFastPath, TruncatedJpegFallsBackToTheGeneralPathsError) {
  TempDir dir;
  DicomSpec s;
  s.width = 64;
  s.height = 64;
  s.encoding = "jpeg-baseline";
  s.pixels.resize(64 * 64);
  for (std::size_t i = 0; i < s.pixels.size(); ++i)
    s.pixels[i] = static_cast<std::uint16_t>((i * 13) % 256);
  write_dicom(dir / "a.dcm", s);
  std::ifstream in(dir / "a.dcm", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), {});
  for (const std::size_t cut : {std::size_t{200}, std::size_t{600}, bytes.size() / 2}) {
    testing::write_text(dir / "cut.dcm", bytes.substr(0, bytes.size() - cut));
    std::string fast_error, general_error;
    try {
      decode_dicom(dir / "cut.dcm", false);
    } catch (const Error& e) {
      general_error = e.full_message();
    }
    try {
      decode_dicom(dir / "cut.dcm", true);
    } catch (const Error& e) {
      fast_error = e.full_message();
    }
    EXPECT_FALSE(general_error.empty()) << "cut " << cut;
    EXPECT_EQ(fast_error, general_error) << "cut " << cut;
  }
}

TEST(DicomFastPath, SharedSamplesMatchTheGeneralPath) {
  int checked = 0;
  for (const char* sub : {"rsna-sample/stage_2_train_images", "nih-dicom-sample"}) {
    const auto dir = testing::shared_data(sub);
    if (!dir) continue;
    for (const auto& e : fs::directory_iterator(*dir)) {
      if (e.path().extension() != ".dcm") continue;
      const std::uint64_t before = dicom_fast_path_decodes();
      EXPECT_TRUE(expect_same(e.path())) << e.path();
      EXPECT_EQ(dicom_fast_path_decodes() - before, 1u) << e.path() << ": not the fast path";
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "../shared/data RSNA/NIH samples not found";
}

TEST(DicomFastPath, PydicomTestFilesMatchTheGeneralPath) {
  const fs::path dir = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  if (!fs::is_directory(dir)) GTEST_SKIP() << "python3-pydicom test files not installed";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().extension() == ".dcm" && e.file_size() < (1 << 20)) {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  int decoded = 0;
  for (const auto& f : files) decoded += expect_same(f) ? 1 : 0;
  std::printf("pydicom test files: %zu compared, %d decode\n", files.size(), decoded);
}

// What decode_image gave before the JPEG fast path: OpenCV's decoder, then one grey channel.
cv::Mat opencv_reference(const fs::path& p) {
  const cv::Mat m = cv::imread(p.string(), cv::IMREAD_UNCHANGED);
  cv::Mat g;
  if (m.channels() == 3) {
    cv::cvtColor(m, g, cv::COLOR_BGR2GRAY);
  } else if (m.channels() == 4) {
    cv::cvtColor(m, g, cv::COLOR_BGRA2GRAY);
  } else {
    g = m;
  }
  return g;
}

void expect_same_as_opencv(const fs::path& p) {
  const cv::Mat ref = opencv_reference(p);
  const cv::Mat got = decode_image(p);
  ASSERT_EQ(got.type(), ref.type()) << p;
  ASSERT_EQ(got.size(), ref.size()) << p;
  EXPECT_EQ(cv::norm(got, ref, cv::NORM_INF), 0) << p;
}

TEST(JpegFastPath, SyntheticJpegsMatchOpenCV) {
  TempDir dir;
  cv::Mat colour(37, 53, CV_8UC3), grey(37, 53, CV_8UC1);
  cv::randu(colour, 0, 256);
  cv::GaussianBlur(colour, colour, cv::Size(5, 5), 2.0);  // some structure for the DCT
  cv::cvtColor(colour, grey, cv::COLOR_BGR2GRAY);
  int n = 0;
  for (const cv::Mat* m : {&colour, &grey}) {
    for (const int quality : {60, 95}) {
      for (const int progressive : {0, 1}) {
        const fs::path p = dir / ("j" + std::to_string(n++) + ".jpg");
        ASSERT_TRUE(cv::imwrite(
            p.string(), *m,
            {cv::IMWRITE_JPEG_QUALITY, quality, cv::IMWRITE_JPEG_PROGRESSIVE, progressive}));
        expect_same_as_opencv(p);
      }
    }
  }
}

TEST(JpegFastPath, SharedSamplesMatchOpenCV) {
  int checked = 0;
  if (const auto cohen = testing::shared_data("cohen-covid-sample/images")) {
    for (const auto& e : fs::directory_iterator(*cohen)) {
      expect_same_as_opencv(e.path());  // JPEG and PNG (PNGs take the OpenCV path)
      ++checked;
    }
  }
  if (const auto kermany = testing::shared_data("kermany-pediatric-224")) {
    std::vector<fs::path> files;
    for (const auto& e : fs::recursive_directory_iterator(*kermany)) {
      const std::string ext = e.path().extension().string();
      if (ext == ".jpeg" || ext == ".jpg") files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (std::size_t i = 0; i < files.size(); i += 97) {  // about 60 of 5,840
      expect_same_as_opencv(files[i]);
      ++checked;
    }
  }
  if (checked == 0) GTEST_SKIP() << "../shared/data Cohen/Kermany samples not found";
}

// decode_image_info(p, &hash) against decode_image_info(p) + sha256_file(p).
void expect_read_once_same(const fs::path& p) {
  std::string plain_error, once_error, hash;
  DecodedImage plain, once;
  try {
    plain = decode_image_info(p);
  } catch (const Error& e) {
    plain_error = e.full_message();
  }
  try {
    once = decode_image_info(p, &hash);
  } catch (const Error& e) {
    once_error = e.full_message();
  }
  EXPECT_EQ(once_error, plain_error) << p;
  if (!plain_error.empty()) return;
  EXPECT_EQ(hash, sha256_file(p)) << p;
  EXPECT_EQ(once.pixels.type(), plain.pixels.type()) << p;
  EXPECT_EQ(once.bit_depth, plain.bit_depth) << p;
  EXPECT_EQ(once.view, plain.view) << p;
  EXPECT_EQ(once.modality, plain.modality) << p;
  EXPECT_EQ(once.is_dicom, plain.is_dicom) << p;
  ASSERT_EQ(once.pixels.size(), plain.pixels.size()) << p;
  EXPECT_EQ(cv::norm(once.pixels, plain.pixels, cv::NORM_INF), 0) << p;
}

TEST(ReadOnce, SameImagesHashesAndErrorsAsTwoReads) {
  TempDir dir;
  // Synthetic files: every encoding, a 16-bit one, and bad ones.
  int n = 0;
  for (const char* enc : {"uncompressed", "jpeg-baseline", "jpeg-lossless", "rle", "jpeg-ls"}) {
    for (const int bits : {8, 12}) {
      if (bits == 12 && std::string(enc) == "jpeg-baseline") continue;
      DicomSpec s = sized_spec(24, 16, enc);
      s.bits_stored = bits;
      for (std::size_t i = 0; i < s.pixels.size(); ++i)
        s.pixels[i] = static_cast<std::uint16_t>((i * 37) % (bits == 8 ? 256 : 4096));
      const fs::path p = dir / ("s" + std::to_string(n++) + ".dcm");
      write_dicom(p, s);
      expect_read_once_same(p);
      std::ifstream in(p, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      testing::write_text(dir / "cut.dcm", bytes.substr(0, bytes.size() - 100));
      expect_read_once_same(dir / "cut.dcm");
      testing::write_text(dir / "head.dcm", bytes.substr(0, 300));
      expect_read_once_same(dir / "head.dcm");
    }
  }
  testing::write_text(dir / "empty.dcm", "");
  expect_read_once_same(dir / "empty.dcm");
  testing::write_text(dir / "text.png", "not an image");
  expect_read_once_same(dir / "text.png");
  expect_read_once_same(dir / "missing.png");
  cv::Mat m(9, 7, CV_16UC1);
  cv::randu(m, 0, 65536);
  ASSERT_TRUE(cv::imwrite((dir / "g16.png").string(), m));
  expect_read_once_same(dir / "g16.png");

  // Shared samples and pydicom's encodings, where present.
  for (const char* sub :
       {"rsna-sample/stage_2_train_images", "nih-dicom-sample", "cohen-covid-sample/images"}) {
    if (const auto d = testing::shared_data(sub)) {
      for (const auto& e : fs::directory_iterator(*d)) expect_read_once_same(e.path());
    }
  }
  const fs::path pydicom = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  if (fs::is_directory(pydicom)) {
    for (const auto& e : fs::directory_iterator(pydicom)) {
      if (e.is_regular_file() && e.path().extension() == ".dcm" && e.file_size() < (1 << 20)) {
        expect_read_once_same(e.path());
      }
    }
  }
}

}  // namespace
}  // namespace cxrsynth::data
