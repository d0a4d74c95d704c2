#include "data/preprocess.h"

#include <opencv2/imgproc.hpp>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "data/image_io.h"

namespace cxrsynth::data {

namespace {

// 8-bit INTER_AREA by an exact factor of 2 or 4 (1024 -> 256 or 512, 512 -> 256 ...), the
// common case for DICOMs: the arithmetic of OpenCV 4.6's resizeAreaFast (2x2: (sum + 2) >> 2;
// 4x4: sum * (1/16.f) rounded half to even by cvRound), written so that it vectorises: about
// 5x faster than OpenCV's table-driven loop, identical output (tests/data/prepare_test.cpp
// compares it with cv::resize). Returns false for anything else.
bool resize_area_exact_8u(const cv::Mat& src, int n, cv::Mat& out) {
  if (src.type() != CV_8UC1 || n <= 0 || src.cols != src.rows || src.cols % n != 0) return false;
  const int k = src.cols / n;
  if (k != 2 && k != 4) return false;
  out.create(n, n, CV_8UC1);
  std::vector<std::uint16_t> col(static_cast<std::size_t>(src.cols));
  for (int y = 0; y < n; ++y) {
    const std::uint8_t* r0 = src.ptr<std::uint8_t>(y * k);
    for (int x = 0; x < src.cols; ++x) col[x] = r0[x];
    for (int j = 1; j < k; ++j) {
      const std::uint8_t* r = src.ptr<std::uint8_t>(y * k + j);
      for (int x = 0; x < src.cols; ++x) col[x] = static_cast<std::uint16_t>(col[x] + r[x]);
    }
    std::uint8_t* d = out.ptr<std::uint8_t>(y);
    if (k == 2) {
      for (int x = 0; x < n; ++x) {
        const unsigned sum = col[2 * x] + col[2 * x + 1];
        d[x] = static_cast<std::uint8_t>((sum + 2) >> 2);
      }
    } else {
      for (int x = 0; x < n; ++x) {
        const unsigned sum = col[4 * x] + col[4 * x + 1] + col[4 * x + 2] + col[4 * x + 3];
        // sum / 16 rounded half to even (cvRound of an exact float); at most 255.
        d[x] = static_cast<std::uint8_t>((sum + 7 + ((sum >> 4) & 1)) >> 4);
      }
    }
  }
  return true;
}

}  // namespace

cv::Mat resize_square(const cv::Mat& image, int n) {
  if (image.cols == n && image.rows == n) return image.clone();
  cv::Mat out;
  if (resize_area_exact_8u(image, n, out)) return out;
  const bool shrink = image.cols >= n && image.rows >= n;
  cv::resize(image, out, cv::Size(n, n), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

std::string thumbnail(const cv::Mat& image) {
  cv::Mat small, small8;
  cv::resize(image, small, cv::Size(16, 16), 0, 0, cv::INTER_AREA);
  small.convertTo(small8, CV_8U, small.depth() == CV_16U ? 1.0 / 257.0 : 1.0);
  CXRSYNTH_CHECK(small8.isContinuous(), "thumbnail: non-continuous matrix");
  return std::string(reinterpret_cast<const char*>(small8.data), 256);
}

namespace {

Processed process_one(const Candidate& c, int image_size, const fs::path& data_dir) {
  Processed p;
  try {
    std::string sha256;  // of the bytes decoded: the file is read once
    const DecodedImage d = decode_image_info(c.file, &sha256);
    p.view = d.view;
    if (!c.require_view.empty() && d.view != c.require_view) {
      p.view_filtered = true;
      return p;
    }
    p.width = d.pixels.cols;
    p.height = d.pixels.rows;
    p.bit_depth = d.bit_depth;
    const cv::Mat resized = resize_square(d.pixels, image_size);
    write_png_renamed(data_dir / "images" / (c.row.id + ".png"), resized);
    p.thumb = thumbnail(resized);
    p.sha256 = sha256;
    p.ok = true;
  } catch (const Error& e) {
    p.error = e.full_message();
  } catch (const std::exception& e) {
    p.error = c.file.string() + ": " + e.what();
  }
  return p;
}

}  // namespace

std::vector<Processed> process_candidates(const std::vector<Candidate>& candidates, int image_size,
                                          const fs::path& data_dir, int threads) {
  const std::size_t n = candidates.size();
  std::vector<Processed> results(n);
  if (n == 0) return results;
  Progress progress("prepare: decode", static_cast<std::int64_t>(n), {10.0, "img"});
  // One image per thread: OpenCV's own worker threads (resize, colour conversion) on top would
  // oversubscribe the cores (and let a one-thread run use more). Restored afterwards.
  struct OpenCvThreads {
    int before = cv::getNumThreads();
    OpenCvThreads() { cv::setNumThreads(1); }
    ~OpenCvThreads() { cv::setNumThreads(before); }
  } one_opencv_thread;
  // Each item writes only results[i]: the order of the results (and so of everything
  // downstream) does not depend on scheduling.
  parallel_for(
      n, threads,
      [&](std::size_t i) { results[i] = process_one(candidates[i], image_size, data_dir); },
      [&](std::size_t done) { progress.update(static_cast<std::int64_t>(done)); });
  progress.finish();
  sync_filesystem(data_dir / "images");  // one flush instead of an fsync per image
  return results;
}

}  // namespace cxrsynth::data
