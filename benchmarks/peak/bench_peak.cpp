// Measured fp32 FMA peak and machine information for benchmarks/run.sh.
//
// Independent chains of fused multiply-adds (16 accumulators: enough to cover the FMA latency
// on two pipes) on AVX-512 and on AVX2 registers, on 1 thread and on N threads (N = the
// thread count cxrsynth applies by default). Each measurement is the best of 300 short calls
// (about 0.5 ms each), so a busy machine still shows its peak; one FMA = 2 FLOP. Prints `key:
// value` lines (run.sh greps them).
//
// Usage: bench_peak [THREADS]   (0 or absent: the cxrsynth default, one per available core)
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <immintrin.h>
#include <link.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/runtime.h"

namespace {

// Per timed call: 16 FMA instructions per iteration, about 0.5 ms at full speed, so that on a
// busy machine some calls run within one scheduler time slice (the best call is the peak).
constexpr long kIterations = 1L << 17;

__attribute__((target("avx512f"))) float fma_avx512(long iterations, float seed) {
  __m512 a[16];
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 16; ++i) a[i] = _mm512_set1_ps(seed + static_cast<float>(i));
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) a[i] = _mm512_fmadd_ps(a[i], x, y);
  }
  __m512 s = a[0];
  for (int i = 1; i < 16; ++i) s = _mm512_add_ps(s, a[i]);
  float v[16];
  _mm512_storeu_ps(v, s);
  float r = 0;
  for (float f : v) r += f;
  return r;
}

__attribute__((target("avx2,fma"))) float fma_avx2(long iterations, float seed) {
  __m256 a[16];
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 16; ++i) a[i] = _mm256_set1_ps(seed + static_cast<float>(i));
  for (long it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int i = 0; i < 16; ++i) a[i] = _mm256_fmadd_ps(a[i], x, y);
  }
  __m256 s = a[0];
  for (int i = 1; i < 16; ++i) s = _mm256_add_ps(s, a[i]);
  float v[8];
  _mm256_storeu_ps(v, s);
  float r = 0;
  for (float f : v) r += f;
  return r;
}

std::atomic<float> g_sink{0};

// GFLOP/s of `threads` threads each running kernel(kIterations) at the same time (they start
// together after a spin barrier; a call lasts until the slowest thread ends), best of
// `repeats` calls.
double measure(float (*kernel)(long, float), int lanes, int threads, int repeats) {
  double best = 0;
  for (int r = 0; r < repeats; ++r) {
    std::atomic<int> ready{0};
    std::vector<double> secs(threads);
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
      pool.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < threads) {
        }
        const auto t0 = std::chrono::steady_clock::now();
        g_sink = g_sink + kernel(kIterations, static_cast<float>(t));
        secs[t] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      });
    for (auto& th : pool) th.join();
    const double s = *std::max_element(secs.begin(), secs.end());
    const double flop = 2.0 * lanes * 16.0 * static_cast<double>(kIterations) * threads;
    best = std::max(best, flop / s / 1e9);
  }
  return best;
}

std::string cpuinfo_field(const std::string& key) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  return "unknown";
}

std::string loaded_library(const char* needle) {
  std::string found;
  struct Ctx {
    const char* needle;
    std::string* found;
  } ctx{needle, &found};
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) -> int {
        auto* c = static_cast<Ctx*>(data);
        const char* name = info->dlpi_name;
        if (name && std::strstr(name, c->needle) && c->found->empty()) {
          char resolved[4096];
          *c->found = realpath(name, resolved) ? resolved : name;
        }
        return 0;
      },
      &ctx);
  return found.empty() ? "not loaded" : found;
}

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? std::string(v) : std::string(fallback);
}

}  // namespace

int main(int argc, char** argv) {
  const int default_threads = at::get_num_threads();
  const int machine_threads = cxrsynth::apply_threads(0);  // what cxrsynth uses by default
  const int threads = cxrsynth::apply_threads(argc > 1 ? std::atoi(argv[1]) : 0);

  std::set<std::string> flags;
  {
    std::istringstream in(cpuinfo_field("flags"));
    std::string f;
    while (in >> f) flags.insert(f);
  }
  std::string shown;
  for (const char* f :
       {"fma", "avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_tile"})
    if (flags.count(f)) shown += std::string(shown.empty() ? "" : " ") + f;

  std::printf("cpu: %s\n", cpuinfo_field("model name").c_str());
  std::printf("cores: %u online, %d available to this process\n",
              std::thread::hardware_concurrency(), machine_threads);
  std::printf("flags: %s\n", shown.c_str());
  std::printf("blas: %s%s\n", loaded_library("libblas.so").c_str(),
              cxrsynth::slow_blas_detected() ? " (SLOW reference BLAS)" : "");
  using CoreName = char* (*)();
  if (auto* core = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename")))
    std::printf("openblas core: %s\n", core());
  std::printf("allocator: %s\n", loaded_library("tcmalloc").c_str());
  std::printf("threads: LibTorch default %d, cxrsynth default %d, this benchmark %d\n",
              default_threads, machine_threads, threads);
  std::printf("env: OPENBLAS_CORETYPE=%s OPENBLAS_L2_SIZE=%s OMP_NUM_THREADS=%s\n",
              env_or("OPENBLAS_CORETYPE", "(unset)").c_str(),
              env_or("OPENBLAS_L2_SIZE", "(unset)").c_str(),
              env_or("OMP_NUM_THREADS", "(unset)").c_str());

  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  double peak = 0;
  if (avx512) {
    const double one = measure(fma_avx512, 16, 1, 300), all = measure(fma_avx512, 16, threads, 300);
    std::printf("fma avx512: 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s\n", one, threads, all);
    peak = std::max(peak, all);
  }
  if (avx2) {
    const double one = measure(fma_avx2, 8, 1, 300), all = measure(fma_avx2, 8, threads, 300);
    std::printf("fma avx2: 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s\n", one, threads, all);
    peak = std::max(peak, all);
  }
  std::printf("peak: %.1f GFLOP/s fp32 (%d threads)\n", peak, threads);
  return peak > 0 ? 0 : 1;
}
