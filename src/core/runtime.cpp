#include "core/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstring>
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
  if (!at::hasCUDA()) {
    throw Error(
        fmt::format("device '{}' requested but this build of LibTorch has no usable CUDA "
                    "(build against an official CUDA LibTorch; see README)",
                    spec));
  }
  const int index = m[3].matched ? std::stoi(m[3].str()) : 0;
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
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

}  // namespace cxrsynth
