#include "core/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <regex>
#include <thread>

#include "core/error.h"

namespace cxrsynth {

namespace {
const std::regex& device_pattern() {
  static const std::regex kPattern("^(cpu|cuda)(:([0-9]+))?$");
  return kPattern;
}
}  // namespace

void validate_device_spec(const std::string& spec) {
  std::smatch m;
  if (!std::regex_match(spec, m, device_pattern()) || (m[1] == "cpu" && m[2].matched)) {
    throw UsageError(fmt::format("invalid device '{}': expected cpu, cuda or cuda:N", spec));
  }
}

c10::Device parse_device(const std::string& spec) {
  validate_device_spec(spec);
  std::smatch m;
  std::regex_match(spec, m, device_pattern());
  if (m[1] == "cpu") return c10::Device(c10::kCPU);
  const auto& cuda = at::detail::getCUDAHooks();
  if (!cuda.hasCUDART()) {
    throw Error(fmt::format(
        "device '{}': this build has no CUDA (it links a CPU-only LibTorch, e.g. "
        "Debian's libtorch); rebuild against an official CUDA LibTorch with "
        "-DCMAKE_PREFIX_PATH=/path/to/libtorch (README, GPU builds), or use --device cpu",
        spec));
  }
  const int gpus = cuda.getNumGPUs();
  if (gpus == 0) {
    throw Error(fmt::format(
        "device '{}': this build has CUDA but no GPU is visible (check nvidia-smi, the driver "
        "and CUDA_VISIBLE_DEVICES), or use --device cpu",
        spec));
  }
  int index = 0;
  if (m[3].matched) {
    index = std::stoi(m[3].str());
  } else if (const char* local = std::getenv("LOCAL_RANK"); local && std::getenv("WORLD_SIZE")) {
    // Data-parallel job (cxrsynth launch, torchrun): plain "cuda" = one GPU per local rank.
    index = std::atoi(local) % gpus;
  }
  if (index >= gpus) {
    throw Error(fmt::format("device '{}': only {} GPU(s) visible (cuda:0 .. cuda:{})", spec, gpus,
                            gpus - 1));
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

namespace {
c10::Device g_compute_device(c10::kCPU);
}  // namespace

c10::Device compute_device() {
  return g_compute_device;
}

c10::Device select_stage_device(const std::string& spec, const std::string& stage) {
  const c10::Device device = parse_device(spec);
  static const char* const kCudaStages[] = {"train-gan", "train-classifier"};
  const bool supported =
      std::find(std::begin(kCudaStages), std::end(kCudaStages), stage) != std::end(kCudaStages);
  if (device.is_cuda() && !supported)
    throw UsageError(fmt::format(
        "--device {}: the {} stage runs on the CPU only in this version (CUDA: train-gan, "
        "train-classifier); use --device cpu",
        spec, stage));
  g_compute_device = device;
  return device;
}

int apply_threads(int threads) {
  if (threads <= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
      threads = CPU_COUNT(&set);
    } else {
      threads = static_cast<int>(std::thread::hardware_concurrency());
    }
    if (threads <= 0) threads = 1;
  }
  at::set_num_threads(threads);
  return threads;
}

bool slow_blas_detected() {
  // Debian's alternatives link libblas.so.3 to the netlib reference BLAS unless OpenBLAS
  // (or another optimised BLAS) is installed; the loaded path tells which.
  bool slow = false;
  dl_iterate_phdr(
      [](struct dl_phdr_info* info, size_t, void* data) -> int {
        const char* name = info->dlpi_name;
        if (name && std::strstr(name, "libblas.so")) {
          char resolved[4096];
          if (realpath(name, resolved) && std::strstr(resolved, "/blas/libblas.so")) {
            *static_cast<bool*>(data) = true;
          }
        }
        return 0;
      },
      &slow);
  return slow;
}

std::string blas_coretype_warning(const char* coretype, bool avx512) {
  if (coretype == nullptr || *coretype == '\0') return "";
  std::string lower(coretype);
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  // OpenBLAS core names with AVX-512 kernels.
  const bool has_avx512_kernels = lower.find("skylakex") != std::string::npos ||
                                  lower.find("cooperlake") != std::string::npos ||
                                  lower.find("sapphirerapids") != std::string::npos;
  if (!avx512 || has_avx512_kernels) return "";
  return fmt::format(
      "OPENBLAS_CORETYPE={} is set in the environment: OpenBLAS uses that core's kernels, without "
      "the AVX-512 this CPU has, and its sgemm (linear layers, transposed convolutions) runs at "
      "about half speed; cxrsynth leaves the variable as it is: unset it for cxrsynth's commands "
      "if nothing else needs it",
      coretype);
}

std::string blas_coretype_warning() {
#if defined(__x86_64__) || defined(__i386__)
  const bool avx512 = __builtin_cpu_supports("avx512f") != 0;
#else
  const bool avx512 = false;
#endif
  return blas_coretype_warning(std::getenv("OPENBLAS_CORETYPE"), avx512);
}

}  // namespace cxrsynth
