#include "data/jpeg_decode.h"

// jpeglib.h needs size_t and FILE declared first.
#include <cstdio>
// clang-format off
#include <jpeglib.h>
// clang-format on

#include <csetjmp>

namespace cxrsynth::data {
namespace {

struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
};

void jpeg_fail(j_common_ptr c) {
  std::longjmp(reinterpret_cast<JpegErrors*>(c->err)->jump, 1);
}

void jpeg_count_warning(j_common_ptr c, int level) {
  if (level < 0) ++c->err->num_warnings;  // corrupt or truncated data: not a clean decode
}

void jpeg_quiet(j_common_ptr /*c*/) {}

// rows/cols < 0: any size (checked against the limits of image_io.h by the caller's header
// check); gray_only: one component only.
bool decode(const std::uint8_t* data, std::size_t size, int rows, int cols, bool gray_only,
            cv::Mat& out) {
  jpeg_decompress_struct cinfo;
  JpegErrors err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpeg_fail;
  err.mgr.emit_message = jpeg_count_warning;
  err.mgr.output_message = jpeg_quiet;
  jpeg_create_decompress(&cinfo);
  if (setjmp(err.jump) != 0) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  bool ok = jpeg_read_header(&cinfo, TRUE) == JPEG_HEADER_OK && cinfo.data_precision == 8 &&
            err.mgr.num_warnings == 0;
  if (ok && gray_only) {
    ok = cinfo.num_components == 1 && !cinfo.progressive_mode && !cinfo.arith_code;
  } else if (ok) {
    ok = cinfo.num_components == 1 ||
         (cinfo.num_components == 3 &&
          (cinfo.jpeg_color_space == JCS_YCbCr || cinfo.jpeg_color_space == JCS_RGB));
  }
  if (ok && rows >= 0) {
    ok = static_cast<long long>(cinfo.image_width) == cols &&
         static_cast<long long>(cinfo.image_height) == rows;
  }
  if (!ok) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const bool gray = cinfo.num_components == 1;
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_EXT_BGR;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress(&cinfo);
  out.create(static_cast<int>(cinfo.output_height), static_cast<int>(cinfo.output_width),
             gray ? CV_8UC1 : CV_8UC3);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out.ptr(static_cast<int>(cinfo.output_scanline));
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  const bool clean = err.mgr.num_warnings == 0;
  jpeg_destroy_decompress(&cinfo);
  return clean;
}

}  // namespace

bool decode_jpeg_gray8(const std::uint8_t* data, std::size_t size, int rows, int cols,
                       cv::Mat& out) {
  return decode(data, size, rows, cols, /*gray_only=*/true, out);
}

bool decode_jpeg_8bit(const std::uint8_t* data, std::size_t size, cv::Mat& out) {
  return decode(data, size, -1, -1, /*gray_only=*/false, out);
}

}  // namespace cxrsynth::data
