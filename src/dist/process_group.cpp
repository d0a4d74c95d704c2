#include "dist/process_group.h"

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef CXRSYNTH_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <mutex>

#include "core/error.h"
#include "core/log.h"

namespace cxrsynth::dist {

namespace {

// Never destroyed: a process group's destructor joins its worker threads, which can block
// forever at exit when a peer has died; the OS reclaims everything.
c10::intrusive_ptr<c10d::ProcessGroup>* g_group = nullptr;
std::once_flag g_once;

bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

void create_group() {
  const DistEnv& e = dist_env();
  const auto timeout = std::chrono::seconds(collective_timeout_seconds());
  log_debug("dist: rank {} of {} joining {}:{} (from {} variables, timeout {} s)", e.rank,
            e.world_size, e.master_addr, e.master_port, e.source, timeout.count());
  c10d::TCPStoreOptions so;
  so.port = static_cast<std::uint16_t>(e.master_port);
  so.isServer = e.rank == 0;
  so.numWorkers = static_cast<std::size_t>(e.world_size);
  so.waitWorkers = true;
  so.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store;
  try {
    store = c10::make_intrusive<c10d::TCPStore>(e.master_addr, so);
  } catch (const std::exception& ex) {
    throw Error(fmt::format(
        "rank {} of {}: rendezvous at {}:{} failed within {} s: {} (is rank 0 running, is the "
        "port free and reachable, are all {} processes started?)",
        e.rank, e.world_size, e.master_addr, e.master_port, timeout.count(), ex.what(),
        e.world_size));
  }
  const char* backend = std::getenv("CXRSYNTH_DIST_BACKEND");
  const std::string b = backend ? backend : "gloo";
  if (b == "nccl") {
#ifdef CXRSYNTH_WITH_NCCL
    // NCCL: CUDA tensors only; one GPU per process (LOCAL_RANK picks it in --device cuda).
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    g_group = new c10::intrusive_ptr<c10d::ProcessGroup>(
        c10::make_intrusive<c10d::ProcessGroupNCCL>(store, e.rank, e.world_size, opts));
    return;
#else
    throw UsageError(
        "CXRSYNTH_DIST_BACKEND=nccl: this build has no NCCL (build against an official CUDA "
        "LibTorch, see README); unset it to use Gloo");
#endif
  }
  if (b != "gloo")
    throw UsageError(fmt::format("CXRSYNTH_DIST_BACKEND='{}': expected gloo or nccl", b));
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME")) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  } else if (is_loopback(e.master_addr)) {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  try {
    g_group = new c10::intrusive_ptr<c10d::ProcessGroup>(
        c10::make_intrusive<c10d::ProcessGroupGloo>(store, e.rank, e.world_size, opts));
  } catch (const std::exception& ex) {
    throw Error(fmt::format("rank {} of {}: creating the Gloo process group failed: {}", e.rank,
                            e.world_size, ex.what()));
  }
  log_debug("dist: rank {} of {} ready (gloo)", e.rank, e.world_size);
}

c10d::ProcessGroup& group() {
  std::call_once(g_once, create_group);
  return **g_group;
}

// Runs one collective and waits; any failure becomes an Error naming rank and operation.
template <class Fn>
void collective(const char* what, Fn&& fn) {
  try {
    c10::intrusive_ptr<c10d::Work> work = fn(group());
    work->wait();
  } catch (const Error&) {
    throw;
  } catch (const std::exception& ex) {
    std::string msg = ex.what();
    const auto nl = msg.find('\n');  // c10 appends a C++ stack trace
    if (nl != std::string::npos) msg.resize(nl);
    throw Error(fmt::format(
        "rank {} of {}: {} failed: {} (another process stopped, crashed or did not answer "
        "within {} s; see its output)",
        rank(), world_size(), what, msg, collective_timeout_seconds()));
  }
}

}  // namespace

void init() {
  if (distributed()) group();
}

void all_reduce_gradients(const std::vector<at::Tensor>& params) {
  if (!distributed() || params.empty()) return;
  std::vector<at::Tensor> flat;
  flat.reserve(params.size());
  for (const auto& p : params) {
    auto& g = const_cast<at::Tensor&>(p).mutable_grad();
    if (!g.defined()) g = at::zeros_like(p);
    flat.push_back(g.reshape({-1}));
  }
  std::vector<at::Tensor> buf{at::cat(flat)};
  collective("all-reduce of the gradients",
             [&](c10d::ProcessGroup& pg) { return pg.allreduce(buf); });
  buf[0].div_(world_size());
  std::int64_t off = 0;
  for (const auto& p : params) {
    auto& g = const_cast<at::Tensor&>(p).mutable_grad();
    const auto n = g.numel();
    g.copy_(buf[0].narrow(0, off, n).view(g.sizes()));
    off += n;
  }
}

void broadcast_from_main(const std::vector<at::Tensor>& tensors) {
  if (!distributed() || tensors.empty()) return;
  at::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    std::vector<at::Tensor> one{t.detach()};
    collective("broadcast from rank 0", [&](c10d::ProcessGroup& pg) { return pg.broadcast(one); });
  }
}

std::vector<double> broadcast_values(std::vector<double> values) {
  if (!distributed() || values.empty()) return values;
  std::vector<at::Tensor> t{at::tensor(values, at::kDouble)};
  collective("broadcast from rank 0", [&](c10d::ProcessGroup& pg) { return pg.broadcast(t); });
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = t[0][static_cast<std::int64_t>(i)].item<double>();
  return values;
}

std::vector<double> all_reduce_sum(std::vector<double> values) {
  if (!distributed() || values.empty()) return values;
  std::vector<at::Tensor> t{at::tensor(values, at::kDouble)};
  collective("all-reduce", [&](c10d::ProcessGroup& pg) { return pg.allreduce(t); });
  for (std::size_t i = 0; i < values.size(); ++i)
    values[i] = t[0][static_cast<std::int64_t>(i)].item<double>();
  return values;
}

std::vector<at::Tensor> all_gather(const at::Tensor& tensor) {
  if (!distributed()) return {tensor};
  std::vector<at::Tensor> in{tensor.contiguous()};
  std::vector<std::vector<at::Tensor>> out(1);
  for (int r = 0; r < world_size(); ++r) out[0].push_back(at::empty_like(in[0]));
  collective("all-gather", [&](c10d::ProcessGroup& pg) { return pg.allgather(out, in); });
  return out[0];
}

void barrier(const std::string& what) {
  if (!distributed()) return;
  collective(("barrier " + what).c_str(), [&](c10d::ProcessGroup& pg) { return pg.barrier(); });
}

}  // namespace cxrsynth::dist
