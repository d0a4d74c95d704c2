#include "data/image_io.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/sha256.h"
#include "data/dicom.h"
#include "data/jpeg_decode.h"
#include "data/png_encode.h"

namespace cxrsynth::data {
namespace {

std::string lower_extension(const fs::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

bool starts_with(const std::string& bytes, const char* magic, std::size_t n) {
  return bytes.size() >= n && std::equal(magic, magic + n, bytes.begin());
}

// libjpeg decodes a truncated JPEG to a grey-padded image with only a warning; refuse it.
void check_complete(const std::string& bytes, const std::string& name) {
  if (starts_with(bytes, "\xFF\xD8", 2)) {
    std::size_t end = bytes.size();
    while (end > 2 && bytes[end - 1] == '\0') --end;  // some writers pad with zeros
    if (end < 4 || static_cast<unsigned char>(bytes[end - 2]) != 0xFF ||
        static_cast<unsigned char>(bytes[end - 1]) != 0xD9) {
      throw Error(fmt::format("{}: truncated JPEG (no end-of-image marker)", name));
    }
  } else if (starts_with(bytes, "\x89PNG\r\n\x1a\n", 8)) {
    if (bytes.size() < 20 || bytes.find("IEND", bytes.size() - 12) == std::string::npos) {
      throw Error(fmt::format("{}: truncated PNG (no IEND chunk)", name));
    }
  }
}

std::uint32_t be32(const std::string& b, std::size_t i) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[i])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[i + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[i + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(b[i + 3]));
}

unsigned be16(const std::string& b, std::size_t i) {
  return (static_cast<unsigned>(static_cast<unsigned char>(b[i])) << 8) |
         static_cast<unsigned>(static_cast<unsigned char>(b[i + 1]));
}

// The size the header declares, checked before the decoder allocates anything (OpenCV's own
// limit is 2^30 pixels: 8 GiB for a 16-bit RGBA PNG).
void check_declared_size(const std::string& bytes, const std::string& name) {
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n", 8)) {
    // Signature, then the IHDR chunk: length (4), "IHDR", width (4), height (4).
    if (bytes.size() < 24 || bytes.compare(12, 4, "IHDR") != 0) {
      throw Error(fmt::format("{}: corrupt PNG (no IHDR chunk after the signature)", name));
    }
    check_image_dimensions(be32(bytes, 16), be32(bytes, 20), name, "PNG header (IHDR)");
  } else if (starts_with(bytes, "\xFF\xD8", 2)) {
    // Walk the marker segments up to the first frame header (SOF0..SOF15 except DHT, JPG, DAC).
    std::size_t i = 2;
    while (i + 4 <= bytes.size()) {
      if (static_cast<unsigned char>(bytes[i]) != 0xFF) return;  // let the decoder say why
      const unsigned marker = static_cast<unsigned char>(bytes[i + 1]);
      if (marker == 0xFF) {  // fill byte
        ++i;
        continue;
      }
      if (marker == 0x01 || (marker >= 0xD0 && marker <= 0xD8)) {  // no length field
        i += 2;
        continue;
      }
      if (marker == 0xDA || marker == 0xD9) return;  // scan data or end before any frame header
      const std::size_t len = be16(bytes, i + 2);
      const bool sof =
          marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
      if (sof) {
        if (i + 9 > bytes.size()) return;
        check_image_dimensions(be16(bytes, i + 7), be16(bytes, i + 5), name,
                               "JPEG frame header (SOF)");
        return;
      }
      if (len < 2) return;
      i += 2 + len;
    }
  }
}

// The whole file in one read (read_file copies through a stringstream).
std::string read_whole_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    throw Error(fmt::format("cannot open {}: {}", path.string(), std::strerror(errno)));
  }
  std::string bytes;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) bytes.reserve(static_cast<std::size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    std::size_t want = bytes.capacity() - bytes.size();
    if (want == 0) want = sizeof buf;
    const std::size_t old = bytes.size();
    bytes.resize(old + want);
    const ssize_t got = ::read(fd, bytes.data() + old, want);
    if (got < 0) {
      if (errno == EINTR) {
        bytes.resize(old);
        continue;
      }
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw Error(fmt::format("cannot read {}: {}", path.string(), why));
    }
    bytes.resize(old + static_cast<std::size_t>(got));
    if (got == 0) break;
  }
  ::close(fd);
  return bytes;
}

bool has_dicom_magic_bytes(const std::string& bytes) {
  return bytes.size() >= 132 && bytes.compare(128, 4, "DICM") == 0;
}

DecodedImage decode_raster(const fs::path& path, const std::string& bytes) {
  const std::string name = path.string();
  if (bytes.empty()) throw Error(fmt::format("{}: zero-byte file (expected an image)", name));
  check_complete(bytes, name);
  check_declared_size(bytes, name);
  cv::Mat m;
  // 8-bit grey and colour JPEGs straight through libjpeg-turbo into BGR (the same pixels as
  // imdecode, see jpeg_decode.h); everything else, and any JPEG it declines, through OpenCV.
  const bool jpeg_done =
      starts_with(bytes, "\xFF\xD8", 2) &&
      decode_jpeg_8bit(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), m);
  if (!jpeg_done) {
    const cv::Mat buffer(1, static_cast<int>(bytes.size()), CV_8UC1,
                         const_cast<char*>(bytes.data()));
    try {
      m = cv::imdecode(buffer, cv::IMREAD_UNCHANGED);
    } catch (const cv::Exception& e) {
      throw Error(fmt::format("{}: cannot decode image: {}", name, e.what()));
    }
  }
  if (m.empty()) {
    throw Error(fmt::format("{}: cannot decode image (corrupt, or not PNG/JPEG/DICOM)", name));
  }
  if (m.depth() != CV_8U && m.depth() != CV_16U) {
    throw Error(fmt::format("{}: unsupported sample type (expected 8- or 16-bit integers)", name));
  }
  DecodedImage out;
  out.bit_depth = m.depth() == CV_16U ? 16 : 8;
  switch (m.channels()) {
    case 1:
      out.pixels = m;
      break;
    case 2: {  // grey + alpha: keep the grey
      cv::extractChannel(m, out.pixels, 0);
      break;
    }
    case 3:
      cv::cvtColor(m, out.pixels, cv::COLOR_BGR2GRAY);  // palette PNGs arrive as BGR
      break;
    case 4:
      cv::cvtColor(m, out.pixels, cv::COLOR_BGRA2GRAY);  // alpha is dropped
      break;
    default:
      throw Error(fmt::format("{}: unsupported channel count {}", name, m.channels()));
  }
  return out;
}

}  // namespace

void check_image_dimensions(long long width, long long height, const std::string& name,
                            const char* what) {
  if (width <= 0 || height <= 0) {
    throw Error(
        fmt::format("{}: {} declares an empty image ({} x {} pixels)", name, what, width, height));
  }
  if (width > kMaxImageSide || height > kMaxImageSide || width * height > kMaxImagePixels) {
    throw Error(fmt::format(
        "{}: {} declares {} x {} pixels, beyond the limit of {} per side and {} megapixels "
        "(corrupt header, or not a chest X-ray)",
        name, what, width, height, kMaxImageSide, kMaxImagePixels / (1 << 20)));
  }
}

bool is_supported_image_extension(const fs::path& path) {
  const std::string ext = lower_extension(path);
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".dcm" || ext == ".dicom" ||
         ext == ".dic";
}

DecodedImage decode_image_info(const fs::path& path, std::string* sha256) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw Error(fmt::format("{}: no such image file", path.string()));
  }
  const std::string ext = lower_extension(path);
  const bool dicom_extension = ext == ".dcm" || ext == ".dicom" || ext == ".dic";
  if (sha256 == nullptr) {
    if (dicom_extension || has_dicom_magic(path)) return decode_dicom(path);
    return decode_raster(path, read_file(path));
  }
  // One read: the bytes are hashed and decoded from memory.
  const std::string bytes = read_whole_file(path);
  DecodedImage out = dicom_extension || has_dicom_magic_bytes(bytes)
                         ? decode_dicom(path, /*allow_fast_path=*/true, &bytes)
                         : decode_raster(path, bytes);
  *sha256 = sha256_hex(bytes);
  return out;
}

cv::Mat decode_image(const fs::path& path) {
  return decode_image_info(path).pixels;
}

cv::Mat to_unit(const cv::Mat& gray) {
  CXRSYNTH_CHECK(gray.channels() == 1 && (gray.depth() == CV_8U || gray.depth() == CV_16U),
                 "to_unit expects a single-channel 8- or 16-bit image, got type {}", gray.type());
  cv::Mat out;
  gray.convertTo(out, CV_32F, gray.depth() == CV_16U ? 1.0 / 65535.0 : 1.0 / 255.0);
  return out;
}

cv::Mat load_image_unit(const fs::path& path) {
  return to_unit(decode_image(path));
}

namespace {

void check_png_input(const fs::path& path, const cv::Mat& image) {
  if (image.empty() || image.channels() != 1 ||
      (image.depth() != CV_8U && image.depth() != CV_16U)) {
    throw Error(
        fmt::format("{}: PNG writing expects a single-channel 8- or 16-bit image", path.string()));
  }
}

}  // namespace

void write_png_renamed(const fs::path& path, const cv::Mat& image) {
  check_png_input(path, image);
  // Adaptive row filters and zlib's run-length strategy (png_encode.h): 16% smaller files than
  // OpenCV's default (Sub filter only, level 1) on the shared samples and 4% smaller than
  // Pillow's default (level 6), at a fraction of level 6's time (benchmarks/prepare/README.md).
  std::vector<std::uint8_t> bytes;
  encode_png_gray(image, bytes);
  static std::atomic<unsigned> counter{0};
  const fs::path tmp = path.parent_path() / fmt::format(".{}.tmp{}-{}", path.filename().string(),
                                                        static_cast<long>(::getpid()), counter++);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()),
              static_cast<std::streamsize>(bytes.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      throw Error(fmt::format("{}: cannot write: {}", tmp.string(), std::strerror(errno)));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error(fmt::format("{}: cannot rename the written PNG into place: {}", path.string(),
                            ec.message()));
  }
}

void sync_filesystem(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0 || ::syncfs(fd) != 0) {
    const std::string why = std::strerror(errno);
    if (fd >= 0) ::close(fd);
    throw Error(fmt::format("{}: cannot flush to disk: {}", dir.string(), why));
  }
  ::close(fd);
}

void write_png_atomic(const fs::path& path, const cv::Mat& image) {
  check_png_input(path, image);
  replace_file_atomic(path, [&](const fs::path& tmp) {
    if (!cv::imwrite(tmp.string(), image)) {
      throw Error(fmt::format("{}: cannot write PNG", tmp.string()));
    }
  });
}

}  // namespace cxrsynth::data
