// Direct libjpeg-turbo decoding for the hot paths of `prepare` (internal to the data module).
// Both functions return false instead of throwing for anything outside their narrow case,
// including any libjpeg warning (corrupt or truncated data): the caller then takes its general
// path (OpenCV's imdecode, DCMTK), whose results and error messages are the reference.
#pragma once

#include <opencv2/core.hpp>

#include <cstddef>
#include <cstdint>

namespace cxrsynth::data {

// A one-component 8-bit sequential Huffman JPEG of exactly rows x cols into CV_8UC1, with the
// exact integer IDCT (JDCT_ISLOW, DCMTK's and libjpeg's default).
bool decode_jpeg_gray8(const std::uint8_t* data, std::size_t size, int rows, int cols,
                       cv::Mat& out);

// An 8-bit JPEG with one component (-> CV_8UC1) or three (YCbCr or RGB -> CV_8UC3, BGR order),
// decoded with the settings cv::imdecode(IMREAD_UNCHANGED) uses, straight into BGR: OpenCV
// 4.6 as built by Debian decodes to RGB and swaps the bytes in a scalar loop (17% of the time
// of the Cohen samples). Four-component (CMYK/YCCK) files return false.
bool decode_jpeg_8bit(const std::uint8_t* data, std::size_t size, cv::Mat& out);

}  // namespace cxrsynth::data
