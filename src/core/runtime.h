// Process runtime settings: thread count and device. The only core file that touches
// LibTorch, and only through narrow headers.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace cxrsynth {

// Checks the syntax only ("cpu", "cuda", "cuda:N"); throws UsageError otherwise.
void validate_device_spec(const std::string& spec);

// Parses "cpu", "cuda", "cuda:N"; throws UsageError otherwise, and Error when CUDA is asked
// for and this build has no CUDA ("this build has no CUDA"), no GPU is visible ("no GPU"), or
// N is out of range. Plain "cuda" in a data-parallel job (LOCAL_RANK and WORLD_SIZE set) is
// cuda:LOCAL_RANK, one GPU per local process.
c10::Device parse_device(const std::string& spec);

// The device the stages compute on: CPU unless the CLI selected another for a stage that
// supports it (select_stage_device). Trainers move their networks and batches there.
c10::Device compute_device();

// parse_device(spec) for `stage`, made the process's compute_device(). Stages that place
// their tensors on compute_device() are train-gan and train-classifier; the others run on the
// CPU and refuse a CUDA device (UsageError naming the stage) instead of ignoring it.
c10::Device select_stage_device(const std::string& spec, const std::string& stage);

// threads <= 0: one intra-op thread per available core (LibTorch's default here is 1, which
// halves throughput on 2 cores). Returns the count applied.
int apply_threads(int threads);

// True when the BLAS LibTorch calls looks like the slow reference implementation; the CLI
// warns then (transposed convolutions run 17-30x slower on it).
bool slow_blas_detected();

// A warning (empty when none) about OPENBLAS_CORETYPE in the environment: some machines set it
// (with OPENBLAS_L2_SIZE) to an older core than the CPU is, e.g. Haswell on an AVX-512 CPU,
// where OpenBLAS's sgemm then runs at about half speed (PERFORMANCE.md: 248 vs 451 GFLOP/s).
// cxrsynth never changes the variable; it says so. `coretype` null = not set; `avx512`: whether
// this CPU has AVX-512F.
std::string blas_coretype_warning(const char* coretype, bool avx512);
// The same for this process's environment and CPU.
std::string blas_coretype_warning();

}  // namespace cxrsynth
