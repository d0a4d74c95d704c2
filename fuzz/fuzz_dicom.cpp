// Fuzz target: DICOM decoding (data/dicom.cpp through DCMTK: uncompressed, JPEG, JPEG-LS,
// RLE; MONOCHROME1, rescale, VOI window). Only cxrsynth::Error may escape; a decoded image
// must be one channel of 8 or 16 bits with positive size.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "data/image_io.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cxrsynth;
  try {
    const auto img = data::decode_image_info(fuzz::write_scratch("input.dcm", data, size));
    if (img.pixels.empty() || img.pixels.channels() != 1 ||
        (img.pixels.depth() != CV_8U && img.pixels.depth() != CV_16U))
      __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
