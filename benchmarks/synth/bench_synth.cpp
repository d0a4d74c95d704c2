// Synthesis throughput: the engine of `cxrsynth synthesize` (decode -> batch -> generator ->
// encode -> atomic PNG write + journal, decode/encode on worker threads) on N generated
// 16-bit PNGs, and the generator alone on the same batches. Compared with
// bench_synth_reference.py (PyTorch-Python, same architecture and batch) by run.sh.
//
// Usage: bench_synth DIR SIZE N BATCH ARCH FILTERS PRECISION WORKERS THREADS
// Prints "cxrsynth: N images, model X images/s, end-to-end Y images/s[, bf16 PSNR Z dB],
// model fp32 W images/s" (X: the generator alone in PRECISION, as the engine runs it).
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/log.h"
#include "data/image_io.h"
#include "data/preprocess.h"
#include "models/cyclegan/networks.h"
#include "synth/bf16_unet.h"
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
  const bool bf16 = o.precision == "bf16";
  synth::Translator bf16_translate;
  if (bf16 && synth::bf16_unet_supported(g)) bf16_translate = synth::make_bf16_unet_translator(net);
  // What the engine runs for this precision (bf16 without the U-Net graph: autocast).
  synth::Translator model = translate;
  if (bf16 && bf16_translate) {
    model = bf16_translate;
  } else if (bf16) {
    model = [&](const at::Tensor& x) {
      at::autocast::set_cpu_enabled(true);
      at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
      at::Tensor y = net->forward(x).to(torch::kFloat);
      at::autocast::clear_cache();
      at::autocast::set_cpu_enabled(false);
      return y;
    };
  }

  // The generator alone on the same batches (inference mode), in this precision and in fp32.
  const auto input = torch::rand({batch, 1, size, size}) * 2 - 1;
  const int batches = (n + batch - 1) / batch;
  auto time_model = [&](const synth::Translator& f) {
    c10::InferenceMode guard;
    f(input);  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    for (int b = 0; b < batches; ++b) f(input);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return batches * batch / s;
  };
  const double model_ips = time_model(model);
  const double fp32_ips = bf16 ? time_model(translate) : model_ips;

  // End to end, timed without the engine's bf16 PSNR check (o.bf16_check_images = 0: in a
  // 32-image run, re-running the first batch in fp32 would add about half the bf16 work); the
  // PSNR is measured below, outside the timing, on the first batch of the same images.
  std::filesystem::remove_all(job.out_dir);
  o.bf16_check_images = 0;
  const auto stats = synth::synthesize(job, translate, o, {}, bf16_translate);
  std::printf("cxrsynth: %d images, model %.2f images/s, end-to-end %.2f images/s", n, model_ips,
              stats.images_per_s);
  if (bf16) {
    at::Tensor first = torch::empty({std::min(batch, n), 1, size, size});
    for (int k = 0; k < first.size(0); ++k) {
      const cv::Mat unit =
          data::to_unit(data::decode_image(job.sources[static_cast<std::size_t>(k)].path));
      first[k][0].copy_(torch::from_blob(const_cast<float*>(unit.ptr<float>()), {size, size}) * 2 -
                        1);
    }
    c10::InferenceMode guard;
    std::printf(", bf16 PSNR %.2f dB", synth::psnr_db(translate(first), model(first)));
  }
  std::printf(", model fp32 %.2f images/s\n", fp32_ips);
  return 0;
}
