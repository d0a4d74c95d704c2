// One classifier training step (forward, loss, backward, Adadelta step) of cxrsynth's
// VGG-16 / ResNet-50 / DenseNet-121, the code train-classifier runs (models/classifiers,
// train/classifier's loss and optimiser), on random one-channel images.
//
// Usage: bench_classifier_step ARCH SIZE BATCH THREADS REPEATS [contiguous|channels_last]
//          [profile]
// Prints "cxrsynth ARCH: median S s, min S s (REPEATS steps after 1 warm-up, FORMAT)".
// With "profile", one more step runs under LibTorch's autograd profiler (legacy, main thread:
// OpenMP workers record nothing, so times are the main thread's wall time) and a breakdown
// follows: wall time per phase (zero_grad, forward + loss, backward, optimizer step) and the
// self time of the ATen operations per category (convolution, batch norm, ReLU, ...) and
// phase, then the operations with the largest self time.
// BENCH_VARIANT (environment, for A/B measurements): "aten" runs the optimiser as eleven ATen
// operations per parameter (before the fused Adadelta), "zero" zeroes the gradients instead of
// resetting them (before zero_grad set them to none); both may be given ("aten,zero").
// "atenbn" runs batch norm (+ ReLU) as ATen's batch_norm and relu_ (before the fused batch norm
// of models/classifiers/batch_norm.h), "atenpool" the stem's max pooling as ATen's (before
// models/classifiers/max_pool.h); "bnab" alternates steps with cxrsynth's batch norm and max
// pooling (minus what atenbn / atenpool switch off) and steps with ATen's for both, on the same
// network, and prints both medians and their ratio (side by side: both halves see the same
// machine load).
#include <ATen/record_function.h>
#include <torch/csrc/autograd/profiler_legacy.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/runtime.h"
#include "models/classifiers/batch_norm.h"
#include "models/classifiers/classifier.h"
#include "models/classifiers/max_pool.h"
#include "train/classifier/adadelta.h"
#include "train/classifier/classifier_loss.h"

namespace {

namespace prof = torch::autograd::profiler;

// Process CPU time (all threads): with 1 thread close to the idle wall time on a busy machine.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Category of an ATen operation by name (self time is attributed to it).
std::string category(const std::string& name) {
  const auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  if (has("conv")) return "convolution";
  if (has("batch_norm")) return "batch norm";
  if (has("relu") || has("threshold") || has("clamp_min")) return "relu";
  if (has("aten::cat")) return "cat";
  if (has("pool")) return "pooling";
  if (has("aten::mean") || has("aten::sum")) return "mean/sum (GAP, grads)";
  if (has("aten::add") || has("aten::mul") || has("aten::div") || has("aten::sqrt") ||
      has("aten::sub") || has("aten::copy_") || has("aten::zero_") || has("aten::fill_"))
    return "elementwise (add, mul, copy, zero ...)";
  if (has("mm") || has("linear")) return "linear";
  if (has("softmax") || has("log") || has("clamp") || has("one_hot")) return "loss";
  return "other";
}

// Walks the push/pop events of the main thread; the outermost ranges are the phases.
void report(const prof::thread_event_lists& lists) {
  struct Open {
    std::string name;
    double start, child;
  };
  std::map<std::string, double> phase_wall;
  std::map<std::pair<std::string, std::string>, double> cat_self;  // (phase, category)
  std::map<std::string, std::pair<double, int>> op_self;           // name -> (us, calls)
  for (const auto& list : lists) {
    std::vector<Open> stack;
    for (const auto& e : list) {
      if (e.kind() == prof::EventKind::PushRange) {
        stack.push_back({e.name(), e.cpuUs(), 0.0});
      } else if (e.kind() == prof::EventKind::PopRange && !stack.empty()) {
        const Open o = stack.back();
        stack.pop_back();
        const double total = e.cpuUs() - o.start, self = total - o.child;
        if (!stack.empty()) stack.back().child += total;
        if (stack.empty()) {
          phase_wall[o.name] += total;
        } else {
          cat_self[{stack.front().name, category(o.name)}] += self;
          auto& op = op_self[o.name];
          op.first += self;
          op.second += 1;
        }
      }
    }
  }
  double step = 0;
  for (const auto& [name, us] : phase_wall) step += us;
  std::printf("profile: one step %.3f s under the profiler (main thread)\n", step / 1e6);
  for (const auto& [name, us] : phase_wall) {
    std::printf("profile: %-10s %8.3f s %5.1f%%\n", name.c_str(), us / 1e6, 100 * us / step);
    std::vector<std::pair<double, std::string>> cats;
    for (const auto& [key, self] : cat_self)
      if (key.first == name) cats.emplace_back(self, key.second);
    std::sort(cats.rbegin(), cats.rend());
    for (const auto& [self, cat] : cats)
      std::printf("profile:   %-40s %8.3f s %5.1f%% of the step\n", cat.c_str(), self / 1e6,
                  100 * self / step);
  }
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [name, v] : op_self) ops.emplace_back(v.first, name);
  std::sort(ops.rbegin(), ops.rend());
  for (std::size_t i = 0; i < ops.size() && i < 25; ++i)
    std::printf("profile: op %-48s %8.3f s %5.1f%% %5d calls\n", ops[i].second.c_str(),
                ops[i].first / 1e6, 100 * ops[i].first / step, op_self[ops[i].second].second);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: bench_classifier_step ARCH SIZE BATCH THREADS REPEATS "
                 "[contiguous|channels_last]\n");
    return 2;
  }
  const std::string arch = argv[1];
  const int size = std::atoi(argv[2]), batch = std::atoi(argv[3]);
  const int threads = cxrsynth::apply_threads(std::atoi(argv[4]));
  const int repeats = std::atoi(argv[5]);
  const std::string format = argc > 6 ? argv[6] : "contiguous";
  const bool channels_last = format == "channels_last";
  const bool profile = argc > 7 && std::string(argv[7]) == "profile";

  torch::manual_seed(0);
  cxrsynth::models::ClassifierModelOptions mo;
  mo.arch = arch;
  mo.in_channels = 1;
  auto net = cxrsynth::models::make_classifier(mo);
  net->train();
  auto x = torch::rand({batch, 1, size, size});
  const auto y = torch::randint(0, 2, {batch}, torch::kLong);
  if (channels_last) {
    torch::NoGradGuard no_grad;
    for (auto& p : net->parameters())
      if (p.dim() == 4) p.set_data(p.contiguous(at::MemoryFormat::ChannelsLast));
    x = x.contiguous(at::MemoryFormat::ChannelsLast);
  }
  cxrsynth::train::Adadelta opt(net->parameters(), 1e-3, 0.95, 1e-7);
  const std::string variant = std::getenv("BENCH_VARIANT") ? std::getenv("BENCH_VARIANT") : "";
  const bool aten_opt = variant.find("aten") != std::string::npos;
  const bool zero_grads = variant.find("zero") != std::string::npos;
  const bool aten_bn = variant.find("atenbn") != std::string::npos;
  const bool bn_ab = variant.find("bnab") != std::string::npos;
  const bool aten_pool = variant.find("atenpool") != std::string::npos;
  cxrsynth::models::detail::set_fused_batch_norm_enabled(!aten_bn);
  cxrsynth::models::detail::set_fused_max_pool_enabled(!aten_pool);
  auto params = net->parameters();

  std::vector<double> times, cpu, times_b, cpu_b;
  const int rounds = bn_ab ? 2 * (repeats + 1) : repeats + 1;
  for (int rr = 0; rr < rounds + (profile ? 1 : 0); ++rr) {
    // with bnab: even rounds fused batch norm, odd rounds ATen's; r counts the steps of each
    const int r = bn_ab ? (rr < rounds ? rr / 2 : repeats + 1) : rr;
    const bool second = bn_ab && rr < rounds && rr % 2 == 1;
    if (bn_ab) {
      cxrsynth::models::detail::set_fused_batch_norm_enabled(!second && !aten_bn);
      cxrsynth::models::detail::set_fused_max_pool_enabled(!second && !aten_pool);
    }
    std::unique_ptr<prof::TLSLegacyProfilerGuard> guard;
    if (r > repeats) {
      guard = std::make_unique<prof::TLSLegacyProfilerGuard>(
          torch::profiler::impl::ProfilerConfig(torch::profiler::impl::ProfilerState::CPU),
          [](const prof::thread_event_lists& lists) { report(lists); });
    }
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds();
    {
      RECORD_USER_SCOPE("zero_grad");
      if (zero_grads) {
        for (auto& p : params)
          if (p.grad().defined()) p.mutable_grad().zero_();
      } else {
        opt.zero_grad();
      }
    }
    torch::Tensor loss;
    {
      RECORD_USER_SCOPE("forward");
      loss = cxrsynth::train::bce_on_softmax(net->forward(x), y).mean();
      (void)loss.item<double>();  // the trainer reads the loss every step
    }
    {
      RECORD_USER_SCOPE("backward");
      loss.backward();
    }
    {
      RECORD_USER_SCOPE("optimizer");
      if (aten_opt) {
        for (std::size_t i = 0; i < params.size(); ++i)
          if (params[i].grad().defined())
            cxrsynth::train::adadelta_update_aten(params[i], params[i].grad(), opt.square_avg()[i],
                                                  opt.acc_delta()[i], opt.lr(), 0.95, 1e-7);
      } else {
        opt.step();
      }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // step 0 is the warm-up (allocations, oneDNN primitives); the profiled step is not timed
    if (r > 0 && r <= repeats) {
      (second ? times_b : times).push_back(s);
      (second ? cpu_b : cpu).push_back(cpu_seconds() - c0);
    }
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu.begin(), cpu.end());
  if (bn_ab) {
    std::sort(times_b.begin(), times_b.end());
    std::sort(cpu_b.begin(), cpu_b.end());
    const double a = times[times.size() / 2], b = times_b[times_b.size() / 2];
    const double ca = cpu[cpu.size() / 2], cb = cpu_b[cpu_b.size() / 2];
    std::printf(
        "bnab %s: fused kernels median %.4f s (cpu %.4f s), ATen batch norm and pooling median "
        "%.4f s (cpu %.4f s), fused / ATen wall %.3f cpu %.3f (%d steps each, alternating, %d "
        "threads)\n",
        arch.c_str(), a, ca, b, cb, a / b, ca / cb, repeats, threads);
  }
  std::printf(
      "cxrsynth %s: median %.4f s, min %.4f s, cpu %.4f s (%d steps after 1 warm-up, %s, %d "
      "threads%s)\n",
      arch.c_str(), times[times.size() / 2], times.front(), cpu[cpu.size() / 2], repeats,
      format.c_str(), threads, variant.empty() ? "" : (", variant " + variant).c_str());
  return 0;
}
