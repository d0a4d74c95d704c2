// Fuzz target: raster image decoding (data/image_io.h: PNG/JPEG through OpenCV, and DICOM
// when the bytes carry the DICM magic). Only cxrsynth::Error may escape; a decoded image must
// be one channel of 8 or 16 bits with positive size.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "data/image_io.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cxrsynth;
  try {
    const auto img = data::decode_image_info(fuzz::write_scratch("input.img", data, size));
    if (img.pixels.empty() || img.pixels.channels() != 1 ||
        (img.pixels.depth() != CV_8U && img.pixels.depth() != CV_16U))
      __builtin_trap();
    (void)data::to_unit(img.pixels);
  } catch (const Error&) {
  }
  return 0;
}
