// The trained A->B generator as the synthesis stage loads it, in R/gan/<task>/:
//   generator_ab.pt   G_A's parameters and buffers, written by torch::save(module) (a
//                     TorchScript archive; Python reads it with torch.jit.load and
//                     .state_dict()-like access to the named parameters "net....").
//   generator.json    {"format": "cxrsynth-generator/1", "generator": {GeneratorOptions
//                     fields}, "image_size": crop size it was trained at, "value_range":
//                     [-1, 1], "channels": C, "task": ..., "step": ...}
// The generator maps [N, C, S, S] images scaled to [-1, 1] to the same shape and range (see
// networks.h); S should be the training size (fully convolutional, so others run too).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "models/cyclegan/networks.h"

namespace cxrsynth::models {

struct SavedGeneratorInfo {
  GeneratorOptions options;
  int image_size = 0;
  std::string task;
  std::int64_t step = 0;
};

// Writes generator_ab.pt and generator.json into `dir` atomically (json last).
void save_generator(const std::filesystem::path& dir, Generator& generator,
                    const SavedGeneratorInfo& info);

// Reads generator.json (refusing an unknown format or options naming the file and key), builds
// the generator and loads generator_ab.pt. The module is returned in eval mode.
Generator load_generator(const std::filesystem::path& dir, SavedGeneratorInfo* info = nullptr);

}  // namespace cxrsynth::models
