// prepare's PNG encoder: every filter and both depths decode (OpenCV/libpng, which checks the
// CRCs and the zlib stream) to the exact pixels, and the files are about the size libpng writes
// with the same settings.
#include "data/png_encode.h"

#include <gtest/gtest.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "data/image_io.h"
#include "support/temp_dir.h"

namespace cxrsynth::data {
namespace {

cv::Mat decode(const std::vector<std::uint8_t>& bytes) {
  return cv::imdecode(
      cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, const_cast<std::uint8_t*>(bytes.data())),
      cv::IMREAD_UNCHANGED);
}

void expect_round_trip(const cv::Mat& m, const std::string& what) {
  std::vector<std::uint8_t> bytes;
  encode_png_gray(m, bytes);
  const cv::Mat back = decode(bytes);
  ASSERT_FALSE(back.empty()) << what;
  ASSERT_EQ(back.type(), m.type()) << what;
  ASSERT_EQ(back.size(), m.size()) << what;
  EXPECT_EQ(cv::norm(back, m, cv::NORM_INF), 0) << what;
}

TEST(PngEncode, RoundTripsEightAndSixteenBit) {
  cv::RNG rng(7);
  for (const int type : {CV_8UC1, CV_16UC1}) {
    for (const cv::Size size :
         {cv::Size(1, 1), cv::Size(1, 9), cv::Size(9, 1), cv::Size(53, 37), cv::Size(256, 256)}) {
      cv::Mat noise(size, type), smooth(size, type), flat(size, type, cv::Scalar(77));
      rng.fill(noise, cv::RNG::UNIFORM, 0, type == CV_8UC1 ? 256 : 65536);
      // Gradients and blobs: rows where Sub, Up, Average and Paeth each win.
      for (int y = 0; y < size.height; ++y)
        for (int x = 0; x < size.width; ++x) {
          const double v = (x * 3 + y * 5 + ((x / 7 + y / 5) % 2) * 40 + (x * y) % 13) % 256;
          if (type == CV_8UC1)
            smooth.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(v);
          else
            smooth.at<std::uint16_t>(y, x) = static_cast<std::uint16_t>(v * 257 + x);
        }
      const std::string what = std::to_string(size.width) + "x" + std::to_string(size.height) +
                               (type == CV_8UC1 ? " 8-bit" : " 16-bit");
      expect_round_trip(noise, "noise " + what);
      expect_round_trip(smooth, "smooth " + what);
      expect_round_trip(flat, "flat " + what);
      expect_round_trip(smooth(cv::Rect(0, 0, (size.width + 1) / 2, size.height)),
                        "strided " + what);  // a view with a row stride
    }
  }
  cv::Mat colour(4, 4, CV_8UC3);
  std::vector<std::uint8_t> bytes;
  EXPECT_THROW(encode_png_gray(colour, bytes), Error);
}

TEST(PngEncode, SizeComparableToLibpngWithTheSameSettings) {
  // A smooth X-ray-like image: the adaptive filters matter here.
  cv::Mat m(256, 256, CV_8UC1);
  for (int y = 0; y < 256; ++y)
    for (int x = 0; x < 256; ++x)
      m.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(
          100 + 60 * std::sin(x / 23.0) * std::cos(y / 31.0) + ((x * 7 + y * 13) % 5));
  cv::GaussianBlur(m, m, cv::Size(3, 3), 0.8);
  std::vector<std::uint8_t> ours;
  encode_png_gray(m, ours);
  std::vector<unsigned char> libpng;
  ASSERT_TRUE(cv::imencode(
      ".png", m, libpng,
      {cv::IMWRITE_PNG_COMPRESSION, 1, cv::IMWRITE_PNG_STRATEGY, cv::IMWRITE_PNG_STRATEGY_RLE}));
  std::printf("png: %zu bytes (libpng, same settings: %zu)\n", ours.size(), libpng.size());
  EXPECT_LT(static_cast<double>(ours.size()), 1.05 * static_cast<double>(libpng.size()));
}

TEST(PngEncode, WritePngRenamedWritesIt) {
  testing::TempDir dir;
  cv::Mat m(20, 30, CV_16UC1);
  cv::randu(m, 0, 65536);
  write_png_renamed(dir / "a.png", m);
  const cv::Mat back = cv::imread((dir / "a.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(back.type(), CV_16UC1);
  EXPECT_EQ(cv::norm(back, m, cv::NORM_INF), 0);
}

}  // namespace
}  // namespace cxrsynth::data
