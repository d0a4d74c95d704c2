// Process runtime settings: thread count and device. The only core file that touches
// LibTorch, and only through narrow headers.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace cxrsynth {

// Checks the syntax only ("cpu", "cuda", "cuda:N"); throws UsageError otherwise.
void validate_device_spec(const std::string& spec);

// Parses "cpu", "cuda", "cuda:N"; throws UsageError otherwise, and Error when CUDA is asked
// for but this LibTorch build or machine has none.
c10::Device parse_device(const std::string& spec);

// threads <= 0: one intra-op thread per available core (LibTorch's default here is 1, which
// halves throughput on 2 cores). Returns the count applied.
int apply_threads(int threads);

// True when the BLAS LibTorch calls looks like the slow reference implementation; the CLI
// warns then (transposed convolutions run 17-30x slower on it).
bool slow_blas_detected();

}  // namespace cxrsynth
