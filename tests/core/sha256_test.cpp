#include "core/sha256.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "support/temp_dir.h"

namespace cxrsynth {

TEST(Sha256, KnownVectors) {
  // FIPS 180-4 examples.
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  std::string million(1000000, 'a');
  EXPECT_EQ(sha256_hex(million),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

namespace {

// byte i = (i * 131 + (i >> 8)) mod 256: a deterministic input that is not periodic per block.
std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + (i >> 8)) & 255);
  return s;
}

}  // namespace

TEST(Sha256, LongVectors) {
  // FIPS 180-4's 896-bit message, and 5,000,003 bytes of pattern() (digests from Python's
  // hashlib, i.e. OpenSSL), hashed in one call and in uneven chunks, with the CPU's SHA
  // extensions where present and with the portable code.
  EXPECT_EQ(
      sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmn"
                 "opqklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  const std::string big = pattern(5000003);
  const char* expected = "89a4781a8dd508601199cf12a9067ac5d0b4c4783eb681f2449611782ca463ff";
  EXPECT_EQ(sha256_hex(big), expected);
  for (const bool portable : {false, true}) {
    Sha256 h;
    if (portable) h.force_portable();
    std::size_t at = 0, step = 1;
    while (at < big.size()) {  // chunks of 1, 2, 4, ... 4096, 1, 2, ... bytes
      const std::size_t take = std::min(step, big.size() - at);
      h.update(big.data() + at, take);
      at += take;
      step = step >= 4096 ? 1 : step * 2 + (step & 1);
    }
    EXPECT_EQ(h.hex_digest(), expected) << (portable ? "portable" : "default");
  }
  // Lengths around the block and padding boundaries.
  const std::string small = pattern(200);
  EXPECT_EQ(sha256_hex(small.substr(0, 55)),
            "5d05a4435b96f43e53e5a582bbb0b8d840a71c023e7468d6604d1c9ae6511c4c");
  EXPECT_EQ(sha256_hex(small.substr(0, 56)),
            "0851bc0b733318bd14db8098dec9a591c02ee1e72295d3ba54560e56342430fb");
  EXPECT_EQ(sha256_hex(small.substr(0, 64)),
            "949f78c7321c5fa8a90f3d236c471950df72d869abc1d36e985cfce9a3ac98b9");
  EXPECT_EQ(sha256_hex(small.substr(0, 119)),
            "f1ae96dacae36aee55d875c7d523334473a78b3e2381a3e7cc7fde2bef3f1938");
}

TEST(Sha256, AcceleratedEqualsPortable) {
  const std::string data = pattern(3000);
  for (std::size_t n = 0; n <= data.size(); n += (n < 300 ? 1 : 97)) {
    Sha256 fast, portable;
    portable.force_portable();
    EXPECT_FALSE(portable.hardware_accelerated());
    fast.update(data.data(), n);
    portable.update(data.data(), n);
    ASSERT_EQ(fast.hex_digest(), portable.hex_digest()) << "length " << n;
  }
  std::printf("sha256: CPU SHA extensions %s\n",
              Sha256().hardware_accelerated() ? "used" : "not available (portable code only)");
}

TEST(Sha256, FileMatchesString) {
  testing::TempDir dir;
  std::string data(200000, 'x');
  data[1234] = 'y';
  testing::write_text(dir / "f.bin", data);
  EXPECT_EQ(sha256_file(dir / "f.bin"), sha256_hex(data));
  EXPECT_THROW(sha256_file(dir / "missing"), std::exception);
}

}  // namespace cxrsynth
