// Image decoding and PNG writing (torch-free). PNG/JPEG (8/16-bit; gray, RGB, RGBA, palette)
// through OpenCV; DICOM through DCMTK: uncompressed, JPEG baseline/extended/lossless, JPEG-LS
// and RLE, with MONOCHROME1 inverted, rescale slope/intercept (modality LUT) applied, and the
// first VOI window applied when the file has one. All outputs are one channel.
//
// Every error names the file and says what is wrong (zero-byte, truncated, corrupt,
// unsupported transfer syntax).
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <string>

namespace cxrsynth::data {

namespace fs = std::filesystem;

// Largest image any decoder accepts: checked from the file's header (PNG IHDR, JPEG SOF, DICOM
// Rows/Columns) before pixels are allocated, so a corrupt or hostile header claiming
// 100000 x 100000 is refused by name instead of allocating gigabytes. Chest X-rays are at most
// about 4300 x 4300 (18 megapixels).
inline constexpr long long kMaxImageSide = 32768;
inline constexpr long long kMaxImagePixels = 1LL << 26;  // 67 megapixels, e.g. 8192 x 8192

// Throws Error naming `name` when width x height is zero or beyond the limits above.
void check_image_dimensions(long long width, long long height, const std::string& name,
                            const char* what);

struct DecodedImage {
  cv::Mat pixels;     // one channel, CV_8U (bit_depth <= 8) or CV_16U (bit_depth > 8)
  int bit_depth = 8;  // bits per sample of the source (DICOM: BitsStored)
  bool is_dicom = false;
  std::string view;      // DICOM ViewPosition (PA, AP, LL ...); empty for other formats
  std::string modality;  // DICOM Modality (CR, DX, CT ...); empty for other formats
};

// Decodes any supported file with its metadata. DICOM is recognised by the "DICM" magic at
// byte 128 or a .dcm/.dicom/.dic extension.
//
// DICOM grey levels: without a VOI window in the file, the full range the modality LUT can
// produce (from BitsStored and rescale slope/intercept) maps linearly onto 0..255 or 0..65535,
// so an 8-bit MONOCHROME2 file without rescale decodes to its stored values (what pydicom's
// pixel_array gives). With a window (WindowCenter/Width), the first one is applied. Colour
// DICOMs are converted to luminance; multi-frame files give their first frame.
//
// sha256, when given, receives the SHA-256 (hex) of the file's bytes: the file is then read
// once, hashed and decoded from memory (prepare's path; DICOMs are parsed by DCMTK from the
// buffer, falling back to loading the file when that fails).
DecodedImage decode_image_info(const fs::path& path, std::string* sha256 = nullptr);

// decode_image_info(path).pixels: single-channel CV_8U or CV_16U.
cv::Mat decode_image(const fs::path& path);

// The image as CV_32F in [0, 1]: 8-bit divided by 255, 16-bit by 65535.
cv::Mat load_image_unit(const fs::path& path);
cv::Mat to_unit(const cv::Mat& gray);  // same scaling for a decoded CV_8U/CV_16U image

// Writes a single-channel CV_8U or CV_16U image as PNG through replace_file_atomic (temporary
// file, fsync, rename).
void write_png_atomic(const fs::path& path, const cv::Mat& image);

// The same without the per-file fsync (a temporary file renamed over `path`, so a reader never
// sees a partial PNG): for bulk writes followed by one sync_directory_tree(), as prepare does
// (an fsync per image took 18 ms of a 30 ms per-image budget). Adaptive row filters and
// zlib's run-length strategy (smaller files than OpenCV's default at a little more time).
void write_png_renamed(const fs::path& path, const cv::Mat& image);

// Flushes the file system holding `dir` to disk (syncfs); throws naming `dir` on failure.
void sync_filesystem(const fs::path& dir);

// True for the extensions the readers look for: png, jpg, jpeg, dcm, dicom, dic (any case).
bool is_supported_image_extension(const fs::path& path);

}  // namespace cxrsynth::data
