// Data-parallel collectives on PyTorch's c10d (LibTorch): a TCPStore rendezvous at
// MASTER_ADDR:MASTER_PORT and ProcessGroupGloo (CPU tensors); in a LibTorch built with NCCL,
// CXRSYNTH_DIST_BACKEND=nccl selects ProcessGroupNCCL (CUDA tensors; untested here).
//
// The group is created on the first collective call (or init()) when dist_env() says
// WORLD_SIZE > 1. With one process every function here returns at once: no store, no threads,
// no copies. Every rank must make the same calls in the same order (c10d's rule).
//
// Failures: a collective that fails (a peer died: its sockets close) or waits longer than
// collective_timeout_seconds() (a peer hangs) throws cxrsynth::Error naming this rank, the
// operation and the timeout, so a training loop stops instead of hanging.
#pragma once

#include <string>
#include <vector>

#include "dist/env.h"

namespace at {
class Tensor;
}

namespace cxrsynth::dist {

inline bool distributed() {
  return dist_env().distributed();
}
inline int rank() {
  return dist_env().rank;
}
inline int world_size() {
  return dist_env().world_size;
}
inline bool is_main() {
  return dist_env().is_main();
}
inline Sharding sharding() {
  return {dist_env().rank, dist_env().world_size};
}

// Rendezvous now (all ranks block until WORLD_SIZE processes joined, or the timeout).
void init();

// After backward, before the optimizer step: every parameter's .grad() becomes the mean over
// the ranks (an undefined gradient counts as zeros, and is defined afterwards). One flat
// all-reduce per call.
void all_reduce_gradients(const std::vector<at::Tensor>& params);

// Rank 0's values replace every rank's, in place (parameters at start, so all ranks begin
// identical even if their initialisation differed).
void broadcast_from_main(const std::vector<at::Tensor>& tensors);

// Rank 0's numbers on every rank (e.g. validation statistics rank 0 computed).
std::vector<double> broadcast_values(std::vector<double> values);

// Element-wise sum over the ranks (float64).
std::vector<double> all_reduce_sum(std::vector<double> values);

// Every rank's tensor (same shape and dtype on every rank), in rank order.
std::vector<at::Tensor> all_gather(const at::Tensor& tensor);

// Waits for all ranks; `what` names the point in errors ("after checkpoint step 10").
void barrier(const std::string& what);

}  // namespace cxrsynth::dist
