// Test helper: writes small DICOM files with DCMTK (uncompressed, JPEG lossless/baseline, RLE,
// JPEG-LS) so decoding tests need no data files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cxrsynth::testing {

struct DicomSpec {
  int width = 8;
  int height = 6;
  int bits_stored = 8;  // <= 8 -> 8-bit allocated, else 16
  std::string photometric = "MONOCHROME2";
  std::vector<std::uint16_t> pixels;  // width * height stored values
  std::optional<double> slope, intercept;
  std::optional<double> window_center, window_width;
  std::string view_position;
  // uncompressed | jpeg-lossless | jpeg-baseline | rle | jpeg-ls
  std::string encoding = "uncompressed";
};

void write_dicom(const std::filesystem::path& path, const DicomSpec& spec);

}  // namespace cxrsynth::testing
