#include "data/image_io.h"

#include <gtest/gtest.h>

#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/dicom_writer.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

using testing::DicomSpec;
using testing::TempDir;
using testing::write_dicom;

std::vector<std::uint16_t> ramp(int n, int max_value) {
  std::vector<std::uint16_t> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    v[static_cast<std::size_t>(i)] = static_cast<std::uint16_t>((i * 37) % (max_value + 1));
  return v;
}

template <class T>
T at(const cv::Mat& m, int i) {
  return m.at<T>(i / m.cols, i % m.cols);
}

std::string error_of(const fs::path& p) {
  try {
    decode_image(p);
  } catch (const Error& e) {
    return e.full_message();
  }
  return "";
}

TEST(ImageIo, PngGray8And16RoundTrip) {
  TempDir dir;
  cv::Mat g8(5, 7, CV_8UC1), g16(5, 7, CV_16UC1);
  cv::randu(g8, 0, 256);
  cv::randu(g16, 0, 65536);
  write_png_atomic(dir / "a.png", g8);
  write_png_atomic(dir / "b.png", g16);
  const DecodedImage a = decode_image_info(dir / "a.png");
  const DecodedImage b = decode_image_info(dir / "b.png");
  EXPECT_EQ(a.bit_depth, 8);
  EXPECT_EQ(b.bit_depth, 16);
  EXPECT_EQ(cv::norm(a.pixels, g8, cv::NORM_INF), 0);
  EXPECT_EQ(cv::norm(b.pixels, g16, cv::NORM_INF), 0);
  const cv::Mat u = load_image_unit(dir / "b.png");
  EXPECT_EQ(u.type(), CV_32FC1);
  EXPECT_NEAR(u.at<float>(0, 0), g16.at<std::uint16_t>(0, 0) / 65535.0, 1e-6);
}

TEST(ImageIo, ColourAndAlphaBecomeOneChannel) {
  TempDir dir;
  cv::Mat bgr(4, 4, CV_8UC3, cv::Scalar(10, 20, 30)),
      bgra(4, 4, CV_8UC4, cv::Scalar(10, 20, 30, 0));
  cv::imwrite((dir / "c.png").string(), bgr);
  cv::imwrite((dir / "d.png").string(), bgra);
  cv::imwrite((dir / "e.jpg").string(), bgr);
  for (const char* n : {"c.png", "d.png", "e.jpg"}) {
    const cv::Mat m = decode_image(dir / n);
    EXPECT_EQ(m.type(), CV_8UC1) << n;
    // 0.299 R + 0.587 G + 0.114 B = 0.299*30 + 0.587*20 + 0.114*10 = 22.0
    EXPECT_NEAR(m.at<std::uint8_t>(1, 1), 22, 1) << n;
  }
}

TEST(ImageIo, BadFilesGiveClearErrors) {
  TempDir dir;
  testing::write_text(dir / "zero.png", "");
  testing::write_text(dir / "garbage.png", "this is not an image at all, not even close");
  cv::Mat g(32, 32, CV_8UC1, cv::Scalar(100));
  cv::imwrite((dir / "full.jpg").string(), g);
  cv::imwrite((dir / "full.png").string(), g);
  for (const char* n : {"full.jpg", "full.png"}) {
    std::ifstream in(dir / n, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    testing::write_text(dir / (std::string("cut-") + n), bytes.substr(0, bytes.size() / 2));
  }
  testing::write_text(dir / "zero.dcm", "");
  testing::write_text(dir / "garbage.dcm", std::string(300, 'x'));
  EXPECT_NE(error_of(dir / "zero.png").find("zero-byte"), std::string::npos);
  EXPECT_NE(error_of(dir / "garbage.png").find("cannot decode"), std::string::npos);
  EXPECT_NE(error_of(dir / "cut-full.jpg").find("truncated JPEG"), std::string::npos);
  EXPECT_NE(error_of(dir / "cut-full.png").find("truncated PNG"), std::string::npos);
  EXPECT_NE(error_of(dir / "zero.dcm").find("zero-byte"), std::string::npos);
  EXPECT_NE(error_of(dir / "garbage.dcm").find("garbage.dcm"), std::string::npos);
  EXPECT_NE(error_of(dir / "missing.png").find("no such image file"), std::string::npos);
}

TEST(Dicom, Monochrome2EightBitIsStoredValues) {
  TempDir dir;
  DicomSpec s;
  s.pixels = ramp(s.width * s.height, 255);
  s.view_position = "PA";
  write_dicom(dir / "a.dcm", s);
  const DecodedImage d = decode_image_info(dir / "a.dcm");
  ASSERT_EQ(d.pixels.type(), CV_8UC1);
  EXPECT_EQ(d.bit_depth, 8);
  EXPECT_EQ(d.view, "PA");
  EXPECT_EQ(d.modality, "CR");
  for (int i = 0; i < s.width * s.height; ++i)
    ASSERT_EQ(at<std::uint8_t>(d.pixels, i), s.pixels[i]);
}

TEST(Dicom, Monochrome1IsInverted) {
  TempDir dir;
  DicomSpec s;
  s.photometric = "MONOCHROME1";
  s.pixels = ramp(s.width * s.height, 255);
  write_dicom(dir / "a.dcm", s);
  const cv::Mat m = decode_image(dir / "a.dcm");
  for (int i = 0; i < s.width * s.height; ++i) ASSERT_EQ(at<std::uint8_t>(m, i), 255 - s.pixels[i]);
}

TEST(Dicom, TwelveBitStaysSixteenBit) {
  TempDir dir;
  DicomSpec s;
  s.bits_stored = 12;
  s.pixels = ramp(s.width * s.height, 4095);
  write_dicom(dir / "a.dcm", s);
  const DecodedImage d = decode_image_info(dir / "a.dcm");
  ASSERT_EQ(d.pixels.type(), CV_16UC1);
  EXPECT_EQ(d.bit_depth, 12);
  // The full 12-bit range maps linearly onto 16 bits (DCMTK: v * 16, within 16 of v * 65535 /
  // 4095).
  for (int i = 0; i < s.width * s.height; ++i)
    ASSERT_NEAR(at<std::uint16_t>(d.pixels, i), s.pixels[i] * 65535.0 / 4095.0, 16.0) << i;
}

TEST(Dicom, RescaleSlopeInterceptAndSixteenBitMonochrome1) {
  TempDir dir;
  DicomSpec s;
  s.bits_stored = 12;
  s.pixels = ramp(s.width * s.height, 4095);
  s.pixels[0] = 0;
  s.pixels[1] = 4095;
  s.slope = 2.0;
  s.intercept = -1000.0;
  write_dicom(dir / "a.dcm", s);
  const cv::Mat m = decode_image(dir / "a.dcm");
  ASSERT_EQ(m.type(), CV_16UC1);
  // The modality range [-1000, 7190] maps linearly onto 0..65535: ends at the ends, order kept.
  EXPECT_EQ(at<std::uint16_t>(m, 0), 0);
  EXPECT_NEAR(at<std::uint16_t>(m, 1), 65535, 16);  // DCMTK: 2^16 / 2^13 steps
  for (int i = 0; i < s.width * s.height; ++i) {
    ASSERT_NEAR(at<std::uint16_t>(m, i), s.pixels[i] * 65535.0 / 4095.0, 32.0) << i;
  }
  s.photometric = "MONOCHROME1";
  write_dicom(dir / "b.dcm", s);
  const cv::Mat inv = decode_image(dir / "b.dcm");
  for (int i = 0; i < s.width * s.height; ++i) {
    ASSERT_EQ(at<std::uint16_t>(inv, i), 65535 - at<std::uint16_t>(m, i)) << i;
  }
}

TEST(Dicom, WindowIsApplied) {
  TempDir dir;
  DicomSpec s;
  s.bits_stored = 12;
  s.pixels = ramp(s.width * s.height, 4095);
  s.window_center = 1000;
  s.window_width = 400;
  write_dicom(dir / "a.dcm", s);
  const cv::Mat m = decode_image(dir / "a.dcm");
  for (int i = 0; i < s.width * s.height; ++i) {
    const int v = s.pixels[i];
    const auto out = at<std::uint16_t>(m, i);
    if (v < 790) {
      ASSERT_EQ(out, 0) << v;
    }
    if (v > 1210) {
      ASSERT_EQ(out, 65535) << v;
    }
  }
}

TEST(Dicom, CompressedEncodingsDecode) {
  TempDir dir;
  for (const char* enc : {"jpeg-lossless", "rle", "jpeg-ls", "jpeg-baseline"}) {
    DicomSpec s;
    s.width = 16;
    s.height = 16;
    s.encoding = enc;
    s.pixels.resize(256);
    // Full 0..255 range: DCMTK's lossy encoder stretches min..max to the full range.
    for (int i = 0; i < 256; ++i)
      s.pixels[i] = static_cast<std::uint16_t>((i % 16) * 10 + (i / 16) * 7);
    const fs::path p = dir / (std::string(enc) + ".dcm");
    write_dicom(p, s);
    const cv::Mat m = decode_image(p);
    ASSERT_EQ(m.type(), CV_8UC1) << enc;
    const double tol = std::string(enc) == "jpeg-baseline" ? 4 : 0;
    for (int i = 0; i < 256; ++i)
      ASSERT_NEAR(at<std::uint8_t>(m, i), s.pixels[i], tol) << enc << " " << i;
  }
}

TEST(Dicom, TruncatedFileIsAnError) {
  TempDir dir;
  DicomSpec s;
  s.width = 64;
  s.height = 64;
  s.pixels = ramp(64 * 64, 255);
  write_dicom(dir / "a.dcm", s);
  std::ifstream in(dir / "a.dcm", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  testing::write_text(dir / "cut.dcm", bytes.substr(0, bytes.size() - 1000));
  const std::string e = error_of(dir / "cut.dcm");
  EXPECT_NE(e.find("cut.dcm"), std::string::npos) << e;
}

}  // namespace
}  // namespace cxrsynth::data
