// Which process of a data-parallel job this one is, from the environment (torch-free).
//
// Read, in this order of precedence:
//   torchrun / cxrsynth launch: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT
//   Slurm (srun):                SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID (MASTER_ADDR and
//                                MASTER_PORT must still be exported by the batch script)
// Nothing set, or a world size of 1: a single process; no process group is created.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace cxrsynth::dist {

struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr;  // empty when world_size == 1
  int master_port = 0;
  std::string source;  // "none", "torchrun" (RANK/WORLD_SIZE) or "slurm"

  bool distributed() const { return world_size > 1; }
  bool is_main() const { return rank == 0; }
};

// Lookup of one variable (nullopt = unset); the default reads the process environment.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
EnvLookup process_environment();

// Parses and validates the variables above; throws UsageError naming the variable, its value
// and what was expected (e.g. RANK without WORLD_SIZE, RANK >= WORLD_SIZE, a missing
// MASTER_ADDR when WORLD_SIZE > 1).
DistEnv read_dist_env(const EnvLookup& lookup = process_environment());

// This process's environment, read once (throws like read_dist_env on the first call).
const DistEnv& dist_env();

// How a global batch is split: rank r of `world` takes the r-th slice of each global batch
// (global batch = per-rank batch x world). {0, 1} = no sharding.
struct Sharding {
  int rank = 0;
  int world = 1;
};

// Timeout of one collective operation and of the rendezvous (CXRSYNTH_DIST_TIMEOUT_S,
// default 300 s): a peer that died or hangs turns into an error after at most this long.
int collective_timeout_seconds(const EnvLookup& lookup = process_environment());

}  // namespace cxrsynth::dist
