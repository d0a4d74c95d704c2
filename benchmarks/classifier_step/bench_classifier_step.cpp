// One classifier training step (forward, loss, backward, Adadelta step) of cxrsynth's
// VGG-16 / ResNet-50 / DenseNet-121, the code train-classifier runs (models/classifiers,
// train/classifier's loss and optimiser), on random one-channel images.
//
// Usage: bench_classifier_step ARCH SIZE BATCH THREADS REPEATS [contiguous|channels_last]
// Prints "cxrsynth ARCH: median S s, min S s (REPEATS steps after 1 warm-up, FORMAT)".
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/runtime.h"
#include "models/classifiers/classifier.h"
#include "train/classifier/adadelta.h"
#include "train/classifier/classifier_loss.h"

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

  std::vector<double> times;
  for (int r = 0; r <= repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    opt.zero_grad();
    const auto loss = cxrsynth::train::bce_on_softmax(net->forward(x), y).mean();
    (void)loss.item<double>();  // the trainer reads the loss every step
    loss.backward();
    opt.step();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) times.push_back(s);  // step 0 is the warm-up (allocations, oneDNN primitives)
  }
  std::sort(times.begin(), times.end());
  std::printf("cxrsynth %s: median %.4f s, min %.4f s (%d steps after 1 warm-up, %s, %d threads)\n",
              arch.c_str(), times[times.size() / 2], times.front(), repeats, format.c_str(),
              threads);
  return 0;
}
