#include "dist/env.h"

#include <fmt/format.h>

#include <cstdlib>
#include <mutex>

#include "core/error.h"

namespace cxrsynth::dist {

namespace {

int parse_int(const std::string& name, const std::string& value, int lo, int hi) {
  std::size_t used = 0;
  long v = 0;
  try {
    v = std::stol(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != value.size() || v < lo || v > hi)
    throw UsageError(fmt::format("environment variable {}='{}': expected an integer in [{}, {}]",
                                 name, value, lo, hi));
  return static_cast<int>(v);
}

}  // namespace

EnvLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

DistEnv read_dist_env(const EnvLookup& lookup) {
  DistEnv e;
  std::string rank_var, world_var, local_var;
  if (lookup("RANK") || lookup("WORLD_SIZE")) {
    rank_var = "RANK", world_var = "WORLD_SIZE", local_var = "LOCAL_RANK";
    e.source = "torchrun";
  } else if (lookup("SLURM_PROCID") || lookup("SLURM_NTASKS")) {
    rank_var = "SLURM_PROCID", world_var = "SLURM_NTASKS", local_var = "SLURM_LOCALID";
    e.source = "slurm";
  } else {
    e.source = "none";
    return e;
  }
  const auto rank = lookup(rank_var), world = lookup(world_var);
  if (!rank || !world)
    throw UsageError(
        fmt::format("environment: {} is set but {} is not; set both (or neither, "
                    "for a single process)",
                    rank ? rank_var : world_var, rank ? world_var : rank_var));
  e.world_size = parse_int(world_var, *world, 1, 1 << 20);
  e.rank = parse_int(rank_var, *rank, 0, e.world_size - 1);
  if (const auto local = lookup(local_var)) e.local_rank = parse_int(local_var, *local, 0, 1 << 20);
  if (!e.distributed()) return e;
  const auto addr = lookup("MASTER_ADDR"), port = lookup("MASTER_PORT");
  if (!addr || addr->empty() || !port)
    throw UsageError(fmt::format(
        "environment: {}={} asks for {} processes, but MASTER_ADDR and MASTER_PORT (the host "
        "and port of rank 0's rendezvous store) are not both set{}",
        world_var, *world, e.world_size,
        e.source == "slurm" ? "; export them in the batch script (see README, Slurm)" : ""));
  e.master_addr = *addr;
  e.master_port = parse_int("MASTER_PORT", *port, 1, 65535);
  return e;
}

const DistEnv& dist_env() {
  static std::once_flag once;
  static DistEnv env;
  std::call_once(once, [] { env = read_dist_env(); });
  return env;
}

int collective_timeout_seconds(const EnvLookup& lookup) {
  const auto v = lookup("CXRSYNTH_DIST_TIMEOUT_S");
  return v ? parse_int("CXRSYNTH_DIST_TIMEOUT_S", *v, 1, 86400) : 300;
}

}  // namespace cxrsynth::dist
