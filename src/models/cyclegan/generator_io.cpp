#include "models/cyclegan/generator_io.h"

#include <torch/serialize.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cxrsynth::models {

namespace {
constexpr const char* kFormat = "cxrsynth-generator/1";
}

void save_generator(const std::filesystem::path& dir, Generator& generator,
                    const SavedGeneratorInfo& info) {
  // Serialised in memory, not to the temporary file by name: LibTorch prefixes every record
  // of its zip archive with the file's stem, which would put the temporary name (pid, counter)
  // into the bytes, and the synthetic manifests record this file's sha256. From a stream the
  // prefix is always "archive": same weights, same bytes, in any process.
  // Always CPU tensors in the file: a generator trained on a GPU loads on a CPU-only machine
  // (synthesize runs on the CPU), and the bytes do not depend on the training device.
  bool on_cpu = true;
  for (const auto& p : generator->parameters()) on_cpu = on_cpu && p.device().is_cpu();
  for (const auto& b : generator->buffers()) on_cpu = on_cpu && b.device().is_cpu();
  Generator to_save = generator;
  if (!on_cpu) {
    to_save = Generator(info.options);
    torch::NoGradGuard no_grad;
    auto src_p = generator->named_parameters();
    for (auto& p : to_save->named_parameters()) p.value().copy_(src_p[p.key()].to(torch::kCPU));
    auto src_b = generator->named_buffers();
    for (auto& b : to_save->named_buffers()) b.value().copy_(src_b[b.key()].to(torch::kCPU));
  }
  std::ostringstream bytes;
  torch::save(to_save, bytes);
  write_file_atomic(dir / "generator_ab.pt", bytes.str());
  const auto& o = info.options;
  nlohmann::ordered_json j;
  j["format"] = kFormat;
  j["generator"] = {{"arch", o.arch},     {"channels", o.channels}, {"filters", o.filters},
                    {"blocks", o.blocks}, {"upsample", o.upsample}, {"residual", o.residual}};
  j["image_size"] = info.image_size;
  j["channels"] = o.channels;
  j["value_range"] = {-1.0, 1.0};
  j["task"] = info.task;
  j["step"] = info.step;
  write_file_atomic(dir / "generator.json", j.dump(2) + "\n");
}

Generator load_generator(const std::filesystem::path& dir, SavedGeneratorInfo* info) {
  const auto json_path = dir / "generator.json";
  return with_context("while loading the generator from " + dir.string(), [&] {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(read_file(json_path));
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: not valid JSON: {}", json_path.string(), e.what()));
    }
    if (j.value("format", "") != kFormat)
      throw Error(fmt::format("{}: format '{}' (expected {})", json_path.string(),
                              j.value("format", ""), kFormat));
    SavedGeneratorInfo out;
    try {
      const auto& g = j.at("generator");
      out.options.arch = g.at("arch").get<std::string>();
      out.options.channels = g.at("channels").get<int>();
      out.options.filters = g.at("filters").get<int>();
      out.options.blocks = g.at("blocks").get<int>();
      out.options.upsample = g.at("upsample").get<std::string>();
      out.options.residual = g.at("residual").get<bool>();
      out.image_size = j.at("image_size").get<int>();
      out.task = j.value("task", "");
      out.step = j.value("step", std::int64_t{0});
    } catch (const nlohmann::json::exception& e) {
      throw Error(fmt::format("{}: {}", json_path.string(), e.what()));
    }
    validate_generator_options(out.options);
    Generator g(out.options);
    // Onto the CPU whatever device the file names (files from before the save above moved
    // GPU-trained weights to the CPU).
    torch::load(g, (dir / "generator_ab.pt").string(), torch::Device(torch::kCPU));
    g->eval();
    if (info) *info = out;
    return g;
  });
}

}  // namespace cxrsynth::models
