// Seed derivation: every consumer of randomness gets its own seed derived from the run seed
// and a stable name ("gan/normal-vs-covid/init", "split"), so adding a consumer or changing
// thread counts never shifts another consumer's stream.
#pragma once

#include <cstdint>
#include <string_view>

namespace cxrsynth {

// 64-bit FNV-1a of the name mixed with the run seed through SplitMix64. Stable across
// platforms and releases (tests pin values).
std::uint64_t derive_seed(std::uint64_t run_seed, std::string_view name);

// SplitMix64 finaliser, exposed for small deterministic generators.
std::uint64_t splitmix64(std::uint64_t x);

// A tiny deterministic generator (SplitMix64 stream) for data-side randomness that must not
// depend on LibTorch's generator (splits, sampling, phantoms).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64();
  double uniform();                      // [0, 1)
  double uniform(double lo, double hi);  // [lo, hi)
  std::uint64_t below(std::uint64_t n);  // [0, n), unbiased
  double normal();                       // standard normal (Box-Muller)
  std::uint64_t state() const { return state_; }

 private:
  std::uint64_t state_;
};

}  // namespace cxrsynth
