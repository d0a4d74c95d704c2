#include "data/preprocess.h"

#include <opencv2/imgproc.hpp>

#include "core/error.h"
#include "core/parallel.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "data/image_io.h"

namespace cxrsynth::data {

cv::Mat resize_square(const cv::Mat& image, int n) {
  if (image.cols == n && image.rows == n) return image.clone();
  cv::Mat out;
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
    const DecodedImage d = decode_image_info(c.file);
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
    p.sha256 = sha256_file(c.file);
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
