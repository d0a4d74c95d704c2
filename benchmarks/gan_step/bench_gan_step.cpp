// One CycleGAN training step as `cxrsynth train-gan` runs it: train::cyclegan_step (both
// generators forward, generator objective backward, Adam on G_A + G_B; both discriminators on
// real and pooled fake images, backward, Adam on D_A + D_B), the trainer's per-term finiteness
// checks included. Networks, optimisers and pools are built from a preset file (configs/
// paper.json, configs/reference.json) with the crop size and batch set here. The input batch is
// fixed random images (data loading is not part of the step). Compared with
// gan_step_reference.py (PyTorch-Python, same architecture) by run.sh.
//
// Usage: bench_gan_step PRESET.json SIZE BATCH THREADS WARMUP STEPS [gan.key=value ...]
// Prints one line:
//   cxrsynth: g=ARCH/FILTERS/BLOCKS/UPSAMPLE/RESIDUAL d=ARCH/FILTERS/LAYERS c=C loss=L idt=X
//   gp=X pool=N size=S batch=B threads=T steps=K median_s=X min_s=X cpu_s=X gflop_per_step=X
//   (median_s, min_s: wall seconds per step; cpu_s: median process CPU seconds per step)
// gflop_per_step: 2 x MACs of every convolution / transposed convolution in the forward passes
// of one step, times 3 for forward + backward (README.md: the convention).
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "config/config_io.h"
#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "train/cyclegan_step.h"

namespace {

using cxrsynth::models::DiscriminatorOptions;
using cxrsynth::models::GeneratorOptions;

double sq(double x) {
  return x * x;
}

// Multiply-accumulates of one generator forward on one S x S image (networks.h layouts).
double generator_macs(const GeneratorOptions& g, int size) {
  const double c = g.channels, f = g.filters, s = size;
  if (g.arch == "unet") {
    const double k = 16;  // 4x4 kernels
    double m = sq(s / 2) * f * c * k + sq(s / 4) * 2 * f * f * k + sq(s / 8) * 4 * f * 2 * f * k +
               sq(s / 16) * 8 * f * 4 * f * k;  // down1..4 (stride 2)
    m += sq(s / 8) * 4 * f * 8 * f * k;         // up1: 8f -> 4f after nearest x2
    m += sq(s / 4) * 2 * f * 8 * f * k;         // up2: concat 8f -> 2f
    m += sq(s / 2) * f * 4 * f * k;             // up3: concat 4f -> f
    m += sq(s) * c * 2 * f * k;                 // final: concat 2f -> c
    return m;
  }
  double m = 2 * sq(s) * f * c * 49;                               // 7x7 stem and output conv
  m += sq(s / 2) * 2 * f * f * 9 + sq(s / 4) * 4 * f * 2 * f * 9;  // two stride-2 convs
  m += g.blocks * 2 * sq(s / 4) * 4 * f * 4 * f * 9;               // residual blocks
  if (g.upsample == "resize-conv") {
    m += sq(s / 2) * 2 * f * 4 * f * 9 + sq(s) * f * 2 * f * 9;  // conv after nearest x2
  } else {
    // Transposed conv: every input pixel scatters a k x k x C_out patch.
    m += sq(s / 4) * 4 * f * 2 * f * 9 + sq(s / 2) * 2 * f * f * 9;
  }
  return m;
}

// Multiply-accumulates of one discriminator forward on one S x S image.
double discriminator_macs(const DiscriminatorOptions& d, int channels, int size) {
  const double k = 16;
  double m = 0, in = channels;
  int s = size;
  for (int i = 0; i < d.layers; ++i) {
    const double out = d.filters * std::min(1 << i, 8);
    s = (s - 2) / 2 + 1;  // conv 4x4, stride 2, padding 1
    m += sq(s) * out * in * k;
    in = out;
  }
  if (d.arch == "authors") return m + sq(s) * in * k;  // 'same' conv to one channel
  const double out = d.filters * std::min(1 << d.layers, 8);
  m += sq(s - 1) * out * in * k;   // conv 4x4 stride 1 padding 1
  return m + sq(s - 2) * out * k;  // output conv
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cxrsynth;
  if (argc < 7) {
    std::fprintf(stderr,
                 "usage: bench_gan_step PRESET.json SIZE BATCH THREADS WARMUP STEPS "
                 "[gan.key=value ...]\n");
    return 2;
  }
  try {
    set_log_level(LogLevel::kQuiet);
    const int size = std::atoi(argv[2]), batch = std::atoi(argv[3]);
    const int threads = std::atoi(argv[4]), warmup = std::atoi(argv[5]), steps = std::atoi(argv[6]);
    std::vector<std::string> sets = {"gan.batch_size=" + std::to_string(batch),
                                     "gan.load_size=" + std::to_string(size),
                                     "gan.crop_size=" + std::to_string(size)};
    for (int i = 7; i < argc; ++i) sets.emplace_back(argv[i]);
    const auto cfg = config::load({argv[1]}, sets);
    const train::GanOptions& o = cfg.gan;
    train::validate_gan_options(o);
    torch::set_num_threads(threads);

    torch::manual_seed(0);
    train::CycleGanNets nets = train::make_nets(o);
    auto params = [](std::initializer_list<torch::nn::Module*> ms) {
      std::vector<torch::Tensor> out;
      for (auto* m : ms)
        for (auto& p : m->parameters()) out.push_back(p);
      return out;
    };
    auto adam = [&](std::vector<torch::Tensor> ps) {
      return torch::optim::Adam(std::move(ps),
                                torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}));
    };
    auto opt_g = adam(params({nets.g_a.get(), nets.g_b.get()}));
    auto opt_d = adam(params({nets.d_a.get(), nets.d_b.get()}));
    train::ImagePool pool_a(o.pool_size), pool_b(o.pool_size);
    const int c = o.generator.channels;
    const auto real_a = torch::rand({batch, c, size, size}) * 2 - 1;
    const auto real_b = torch::rand({batch, c, size, size}) * 2 - 1;

    // As the trainer: every term must be finite before its phase's optimiser step.
    train::StepHooks hooks;
    hooks.check = [](const char* name, const at::Tensor& t) {
      const double v = t.item<double>();
      CXRSYNTH_CHECK(std::isfinite(v), "bench_gan_step: loss {} is {}", name, v);
    };
    // Process CPU time as well as wall time: on a loaded machine the CPU seconds of a
    // one-thread step stay close to its idle wall time.
    auto cpu_now = [] {
      timespec ts{};
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    };
    std::vector<double> times, cpu_times;
    for (int i = 0; i < warmup + steps; ++i) {
      Rng rng(derive_seed(0, "bench/gan_step/" + std::to_string(i)));
      const auto t0 = std::chrono::steady_clock::now();
      const double c0 = cpu_now();
      train::cyclegan_step(nets, opt_g, opt_d, pool_a, pool_b, real_a, real_b, rng, o, hooks);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (i >= warmup) {
        times.push_back(s);
        cpu_times.push_back(cpu_now() - c0);
      }
    }
    auto median_of = [](std::vector<double> v) {
      std::sort(v.begin(), v.end());
      const auto n = v.size();
      return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    };
    const double median = median_of(times), median_cpu = median_of(cpu_times);
    const double fastest = *std::min_element(times.begin(), times.end());

    // Forward evaluations per step: G_A(a), G_B(G_A(a)), G_B(b), G_A(G_B(b)) (+ G_A(b), G_B(a)
    // with identity loss); D_B(G_A(a)), D_A(G_B(b)) for the generators; D(real) and D(fake)
    // of both discriminators (+ D on the interpolates of both with wgan-gp).
    const int g_evals = o.lambda_identity > 0 ? 6 : 4;
    const int d_evals = 6 + (o.adv_loss == "wgan-gp" && o.lambda_gp > 0 ? 2 : 0);
    const double macs = batch * (g_evals * generator_macs(o.generator, size) +
                                 d_evals * discriminator_macs(o.discriminator, c, size));
    const double gflop = 3 * 2 * macs / 1e9;
    const auto& g = o.generator;
    const auto& d = o.discriminator;
    std::printf(
        "cxrsynth: g=%s/%d/%d/%s/%d d=%s/%d/%d c=%d loss=%s idt=%g gp=%g pool=%d size=%d "
        "batch=%d threads=%d steps=%d median_s=%.4f min_s=%.4f cpu_s=%.4f gflop_per_step=%.3f\n",
        g.arch.c_str(), g.filters, g.blocks, g.upsample.c_str(), g.residual ? 1 : 0, d.arch.c_str(),
        d.filters, d.layers, c, o.adv_loss.c_str(), o.lambda_identity, o.lambda_gp, o.pool_size,
        size, batch, threads, steps, median, fastest, median_cpu, gflop);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gan_step: %s\n", e.what());
    return 1;
  }
}
