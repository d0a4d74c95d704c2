// Preprocessing: decode each candidate, resize to N x N (area interpolation when shrinking),
// store as a single-channel PNG (16-bit when the source had more than 8 bits), hash the
// original and a small thumbnail (for duplicate detection). Runs on a thread pool; results
// come back in candidate order, so outputs do not depend on the thread count.
#pragma once

#include <opencv2/core.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "data/sources.h"

namespace cxrsynth::data {

struct Processed {
  bool ok = false;
  bool view_filtered = false;  // DICOM ViewPosition differs from Candidate::require_view
  std::string error;           // decoding failed: the message (names the file)
  int width = 0, height = 0, bit_depth = 0;
  std::string sha256;  // of the original file
  std::string thumb;   // 16x16 8-bit thumbnail of the stored image (256 bytes)
  std::string view;    // DICOM ViewPosition when the file has one
};

// N x N; INTER_AREA when both sides shrink, else bilinear. Aspect ratio is not kept (as the
// authors' cv2.resize to 256 x 256). Depth is preserved.
cv::Mat resize_square(const cv::Mat& image, int n);

// The image reduced to 16 x 16 (area) at 8 bits, row-major, as 256 bytes: nearly equal for the
// same picture re-encoded or re-sized by another repository (see split.h).
std::string thumbnail(const cv::Mat& image);

// Processes candidates[i] into results[i]; writes data_dir/images/<id>.png for each success
// (row.path is set by the caller to "images/<id>.png"). threads <= 0: all cores.
std::vector<Processed> process_candidates(const std::vector<Candidate>& candidates, int image_size,
                                          const fs::path& data_dir, int threads);

}  // namespace cxrsynth::data
