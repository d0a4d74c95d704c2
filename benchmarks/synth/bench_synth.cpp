// Synthesis throughput: the engine of `cxrsynth synthesize` (decode -> batch -> generator ->
// encode -> atomic PNG write + journal, decode/encode on worker threads) on N generated
// 16-bit PNGs, and the generator alone on the same batches. Compared with
// bench_synth_reference.py (PyTorch-Python, same architecture and batch) by run.sh.
//
// Usage: bench_synth DIR SIZE N BATCH ARCH FILTERS PRECISION WORKERS THREADS
// Prints "cxrsynth: N images, model X images/s, end-to-end Y images/s[, bf16 PSNR Z dB]".
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/log.h"
#include "data/image_io.h"
#include "models/cyclegan/networks.h"
#include "synth/engine.h"

int main(int argc, char** argv) {
  using namespace cxrsynth;
  if (argc != 10) {
    std::fprintf(stderr,
                 "usage: bench_synth DIR SIZE N BATCH ARCH FILTERS PRECISION WORKERS THREADS\n");
    return 2;
  }
  set_log_level(LogLevel::kQuiet);
  const std::filesystem::path dir = argv[1];
  const int size = std::atoi(argv[2]), n = std::atoi(argv[3]), batch = std::atoi(argv[4]);
  models::GeneratorOptions g;
  g.arch = argv[5];
  g.filters = std::atoi(argv[6]);
  if (g.arch == "resnet") g.blocks = 9;
  synth::SynthOptions o;
  o.batch_size = batch;
  o.precision = argv[7];
  o.workers = std::atoi(argv[8]);
  o.bf16_check_images = batch;
  torch::set_num_threads(std::atoi(argv[9]));
  torch::manual_seed(0);
  models::Generator net(g);
  net->eval();

  synth::SynthJob job;
  job.out_dir = dir / "out";
  job.id_prefix = "bench";
  job.direction = "a2b";
  job.image_size = size;
  job.options_hash = "bench";
  job.checkpoint_sha256 = "bench";
  for (int i = 0; i < n; ++i) {
    const auto path = dir / "in" / ("in-" + std::to_string(i) + ".png");
    if (!std::filesystem::exists(path)) {
      cv::Mat m(size, size, CV_16UC1);
      for (int y = 0; y < size; ++y)
        for (int x = 0; x < size; ++x)
          m.at<std::uint16_t>(y, x) = static_cast<std::uint16_t>(
              32768 + 20000 * std::sin(0.05 * x + 0.03 * y + i) + ((x * 7919 + y * 104729) % 2000));
      data::write_png_atomic(path, m);
    }
    job.sources.push_back({"in-" + std::to_string(i), "", "external", path});
  }
  synth::Translator translate = [&](const at::Tensor& x) { return net->forward(x); };

  // Generator alone, same batches (fp32, inference mode).
  const auto input = torch::rand({batch, 1, size, size}) * 2 - 1;
  {
    c10::InferenceMode guard;
    translate(input);  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    const int batches = (n + batch - 1) / batch;
    for (int b = 0; b < batches; ++b) translate(input);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("cxrsynth: %d images, model %.2f images/s, ", n, batches * batch / s);
  }
  std::filesystem::remove_all(job.out_dir);
  const auto stats = synth::synthesize(job, translate, o);
  std::printf("end-to-end %.2f images/s", stats.images_per_s);
  if (stats.bf16_psnr_db) std::printf(", bf16 PSNR %.2f dB", *stats.bf16_psnr_db);
  std::printf("\n");
  return 0;
}
