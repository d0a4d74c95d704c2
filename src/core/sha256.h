// SHA-256 (FIPS 180-4) of files and byte strings, as lowercase hex. Used for provenance
// (manifest sha256 of originals, checkpoint hashes) and duplicate detection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace cxrsynth {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, std::size_t size);
  void update(std::string_view s) { update(s.data(), s.size()); }
  std::array<std::uint8_t, 32> digest();
  std::string hex_digest();

  // True when this object hashes with the CPU's SHA extensions (x86 SHA-NI), detected at run
  // time; the digests are the same either way.
  bool hardware_accelerated();
  // Tests: hash with the portable code even where the SHA extensions exist.
  void force_portable() { force_portable_ = true; }

 private:
  void transform(const std::uint8_t* blocks, std::size_t count);
  void transform_portable(const std::uint8_t* block);
  bool force_portable_ = false;
  std::array<std::uint32_t, 8> h_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffer_len_ = 0;
  std::uint64_t total_len_ = 0;
};

std::string sha256_hex(std::string_view data);
std::string sha256_file(const std::filesystem::path& path);

}  // namespace cxrsynth
