#include "data/png_encode.h"

#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace cxrsynth::data {
namespace {

void put32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 24));
  out.push_back(static_cast<std::uint8_t>(v >> 16));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v));
}

// Writes the chunk whose type and data start at out[start] (length placeholder before it).
void finish_chunk(std::vector<std::uint8_t>& out, std::size_t length_at) {
  const std::size_t data_len = out.size() - length_at - 8;
  const auto len = static_cast<std::uint32_t>(data_len);
  out[length_at] = static_cast<std::uint8_t>(len >> 24);
  out[length_at + 1] = static_cast<std::uint8_t>(len >> 16);
  out[length_at + 2] = static_cast<std::uint8_t>(len >> 8);
  out[length_at + 3] = static_cast<std::uint8_t>(len);
  const uLong crc =
      crc32(crc32(0L, Z_NULL, 0), out.data() + length_at + 4, static_cast<uInt>(data_len + 4));
  put32(out, static_cast<std::uint32_t>(crc));
}

std::size_t begin_chunk(std::vector<std::uint8_t>& out, const char* type) {
  const std::size_t at = out.size();
  put32(out, 0);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(type[i]));
  return at;
}

// The Sub, Up, Average and Paeth rows for bytes [bpp, n) (the first bpp bytes are done by the
// caller). Branch-free 16-bit arithmetic so that it vectorises; an AVX2 clone where the CPU
// has it (the baseline x86-64 build targets SSE2 only).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
void filter_candidates(const std::uint8_t* __restrict r, const std::uint8_t* __restrict p,
                       std::size_t n, std::size_t bpp, std::uint8_t* __restrict sub,
                       std::uint8_t* __restrict up, std::uint8_t* __restrict avg,
                       std::uint8_t* __restrict pae) {
  for (std::size_t i = bpp; i < n; ++i) {
    const std::int16_t a = r[i - bpp], b = p[i], c = p[i - bpp];
    sub[i] = static_cast<std::uint8_t>(r[i] - a);
    up[i] = static_cast<std::uint8_t>(r[i] - b);
    avg[i] = static_cast<std::uint8_t>(r[i] - ((a + b) >> 1));
    // Paeth: p = a + b - c; the neighbour closest to p, ties in the order a, b, c.
    const std::int16_t da = static_cast<std::int16_t>(b - c), db = static_cast<std::int16_t>(a - c),
                       dc = static_cast<std::int16_t>(a + b - 2 * c);
    const std::int16_t pa = da < 0 ? static_cast<std::int16_t>(-da) : da;
    const std::int16_t pb = db < 0 ? static_cast<std::int16_t>(-db) : db;
    const std::int16_t pc = dc < 0 ? static_cast<std::int16_t>(-dc) : dc;
    const std::int16_t pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
    pae[i] = static_cast<std::uint8_t>(r[i] - pred);
  }
}

// Sum of |filtered byte| read as a signed byte: libpng's filter heuristic.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("avx2", "default")))
#endif
std::uint32_t
cost(const std::uint8_t* f, std::size_t n) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const int v = static_cast<std::int8_t>(f[i]);
    s += static_cast<std::uint32_t>(v < 0 ? -v : v);
  }
  return s;
}

}  // namespace

void encode_png_gray(const cv::Mat& image, std::vector<std::uint8_t>& out) {
  if (image.empty() || image.channels() != 1 ||
      (image.depth() != CV_8U && image.depth() != CV_16U)) {
    throw Error("encode_png_gray: expects a single-channel 8- or 16-bit image");
  }
  const std::size_t bpp = image.depth() == CV_16U ? 2 : 1;  // bytes per pixel
  const std::size_t width = static_cast<std::size_t>(image.cols);
  const std::size_t rows = static_cast<std::size_t>(image.rows);
  const std::size_t row_bytes = width * bpp;
  if ((row_bytes + 1) * rows > (std::size_t{1} << 31)) {
    throw Error("encode_png_gray: image too large for one deflate call");
  }

  // Filtered scanlines: one filter-type byte, then the row.
  std::vector<std::uint8_t> raw(row_bytes), prev(row_bytes, 0);
  std::vector<std::uint8_t> cand[5];
  for (auto& c : cand) c.resize(row_bytes);
  std::vector<std::uint8_t> filtered((row_bytes + 1) * rows);
  for (std::size_t y = 0; y < rows; ++y) {
    const std::uint8_t* src = image.ptr<std::uint8_t>(static_cast<int>(y));
    if (bpp == 1) {
      std::memcpy(raw.data(), src, row_bytes);
    } else {  // PNG samples are big-endian
      for (std::size_t x = 0; x < width; ++x) {
        raw[2 * x] = src[2 * x + 1];
        raw[2 * x + 1] = src[2 * x];
      }
    }
    const std::uint8_t* r = raw.data();
    const std::uint8_t* p = prev.data();
    std::uint8_t* none = cand[0].data();
    std::uint8_t* sub = cand[1].data();
    std::uint8_t* up = cand[2].data();
    std::uint8_t* avg = cand[3].data();
    std::uint8_t* pae = cand[4].data();
    std::memcpy(none, r, row_bytes);
    for (std::size_t i = 0; i < bpp; ++i) {  // no left neighbour: a = c = 0
      sub[i] = r[i];
      up[i] = static_cast<std::uint8_t>(r[i] - p[i]);
      avg[i] = static_cast<std::uint8_t>(r[i] - (p[i] >> 1));
      pae[i] = static_cast<std::uint8_t>(r[i] - p[i]);  // Paeth(0, b, 0) = b
    }
    filter_candidates(r, p, row_bytes, bpp, sub, up, avg, pae);
    int best = 0;
    std::uint32_t best_cost = cost(none, row_bytes);
    for (int f = 1; f < 5; ++f) {
      const std::uint32_t c = cost(cand[f].data(), row_bytes);
      if (c < best_cost) {
        best_cost = c;
        best = f;
      }
    }
    std::uint8_t* dst = filtered.data() + y * (row_bytes + 1);
    dst[0] = static_cast<std::uint8_t>(best);
    std::memcpy(dst + 1, cand[best].data(), row_bytes);
    std::swap(raw, prev);
  }

  out.clear();
  static const std::uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  for (const std::uint8_t b : kSignature) out.push_back(b);
  std::size_t at = begin_chunk(out, "IHDR");
  put32(out, static_cast<std::uint32_t>(width));
  put32(out, static_cast<std::uint32_t>(rows));
  out.push_back(static_cast<std::uint8_t>(8 * bpp));  // bit depth
  out.push_back(0);                                   // colour type: grey
  out.push_back(0);                                   // deflate
  out.push_back(0);                                   // adaptive filtering
  out.push_back(0);                                   // no interlace
  finish_chunk(out, at);

  z_stream z{};
  // Level 1 with Z_RLE: what write_png_renamed asked libpng for (the level hardly matters
  // with this strategy).
  if (deflateInit2(&z, 1, Z_DEFLATED, 15, 8, Z_RLE) != Z_OK) {
    throw Error("encode_png_gray: zlib deflateInit2 failed");
  }
  at = begin_chunk(out, "IDAT");
  const std::size_t data_at = out.size();
  const uLong bound = deflateBound(&z, static_cast<uLong>(filtered.size()));
  out.resize(data_at + bound);
  z.next_in = filtered.data();
  z.avail_in = static_cast<uInt>(filtered.size());
  z.next_out = out.data() + data_at;
  z.avail_out = static_cast<uInt>(bound);
  const int rc = deflate(&z, Z_FINISH);
  const std::size_t produced = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw Error("encode_png_gray: zlib deflate failed");
  out.resize(data_at + produced);
  finish_chunk(out, at);
  at = begin_chunk(out, "IEND");
  finish_chunk(out, at);
}

}  // namespace cxrsynth::data
