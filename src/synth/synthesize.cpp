#include "synth/synthesize.h"

#include <torch/torch.h>

#include <algorithm>
#include <map>

#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/tasks.h"
#include "models/cyclegan/generator_io.h"
#include "models/cyclegan/networks.h"
#include "synth/bf16_unet.h"
#include "train/checkpoint.h"

namespace cxrsynth::synth {

namespace {

struct LoadedGenerator {
  models::Generator net{nullptr};
  models::SavedGeneratorInfo info;
  std::string weights_sha256;  // of the file the weights came from
};

// a2b: generator_ab.pt (G_A). b2a: G_B from checkpoint.pt (the trainer saves G_A alone
// separately; G_B lives only in the full checkpoint), with generator.json's architecture (both
// generators share it).
LoadedGenerator load_translator(const fs::path& dir, const std::string& direction) {
  LoadedGenerator g;
  g.net = models::load_generator(dir, &g.info);
  if (direction == "a2b") {
    g.weights_sha256 = sha256_file(dir / "generator_ab.pt");
    return g;
  }
  const fs::path ckpt = dir / "checkpoint.pt";
  with_context("while loading G_B (direction b2a) from " + ckpt.string(), [&] {
    if (!fs::is_regular_file(ckpt))
      throw UsageError(fmt::format(
          "{} does not exist: direction b2a needs the trainer's full checkpoint (G_B is not "
          "saved on its own)",
          ckpt.string()));
    const auto archive = train::StateArchive::load(ckpt);
    models::Generator gb(g.info.options);
    torch::NoGradGuard no_grad;
    auto copy = [&](const std::string& key, torch::Tensor& dst) {
      const auto src = archive.tensor(key);
      CXRSYNTH_CHECK(src.sizes() == dst.sizes(),
                     "{}: '{}' has shape {} (generator.json's architecture expects {})",
                     ckpt.string(), key, c10::str(src.sizes()), c10::str(dst.sizes()));
      dst.copy_(src);
    };
    for (auto& p : gb->named_parameters()) copy("G_B/param/" + p.key(), p.value());
    for (auto& b : gb->named_buffers()) copy("G_B/buffer/" + b.key(), b.value());
    gb->eval();
    g.net = gb;
    g.weights_sha256 = sha256_file(ckpt);
  });
  return g;
}

std::string gen_options_hash(const models::GeneratorOptions& g, const SynthOptions& o,
                             int image_size) {
  std::vector<std::pair<std::string, std::string>> fields{
      {"format", "cxrsynth-synth/1"},
      {"arch", g.arch},
      {"channels", std::to_string(g.channels)},
      {"filters", std::to_string(g.filters)},
      {"blocks", std::to_string(g.blocks)},
      {"upsample", g.upsample},
      {"residual", g.residual ? "true" : "false"},
      {"image_size", std::to_string(image_size)},
      {"bit_depth", std::to_string(o.bit_depth)},
      {"precision", o.precision},
      {"direction", o.direction},
      {"batch_size", std::to_string(o.batch_size)}};
  // bf16 outputs depend on how the bf16 graph computes them (fp32's hash is unchanged).
  if (o.precision == "bf16")
    fields.emplace_back("bf16_graph", bf16_unet_supported(g) ? "unet-subpixel/1" : "autocast/1");
  return options_hash(fields);
}

SynthStats run_job(SynthJob& job, const LoadedGenerator& g, const SynthOptions& options,
                   Shard shard, bool merge_only) {
  job.direction = options.direction;
  job.checkpoint_sha256 = g.weights_sha256;
  job.channels = g.info.options.channels;
  job.image_size = options.image_size > 0 ? options.image_size : g.info.image_size;
  if (job.image_size <= 0)
    throw UsageError("generator.json has no image_size; set synth.image_size");
  models::validate_generator_options(g.info.options, job.image_size);
  job.options_hash = gen_options_hash(g.info.options, options, job.image_size);
  log_info("synthesize: {} source image(s) -> {} ({}, {} px, {}-bit, {})", job.sources.size(),
           job.out_dir.string(), options.direction, job.image_size, options.bit_depth,
           options.precision);
  if (merge_only) {
    SynthStats stats;
    stats.total = static_cast<std::int64_t>(job.sources.size());
    stats.manifest_written = merge_manifest(job);
    if (!stats.manifest_written)
      throw UsageError(fmt::format(
          "--merge: not every output of {} is complete; run the missing shards first (a rerun "
          "of a shard skips its finished images)",
          job.out_dir.string()));
    return stats;
  }
  models::Generator net = g.net;
  Translator translate = [net](const at::Tensor& x) mutable { return net->forward(x); };
  Translator bf16_translate;
  if (options.precision == "bf16" && bf16_unet_supported(g.info.options))
    bf16_translate = make_bf16_unet_translator(net);
  return synthesize(job, translate, options, shard, bf16_translate);
}

}  // namespace

SynthStats run_synthesize(const SynthOptions& options, const std::string& task,
                          const RunDir& run_dir, Shard shard, bool merge_only) {
  const auto& t = data::find_task(task);
  return with_context("while synthesizing task " + task, [&] {
    const std::string label(options.direction == "a2b" ? t.label_a : t.label_b);
    const auto rows = data::read_manifest(run_dir.manifest());
    SynthJob job;
    job.require_train = true;
    job.out_dir = run_dir.synthetic_dir(task);
    // G_NC / G_PC as the paper names the sets; the reverse direction gets G_CN / G_CP.
    const char a = t.label_a == "normal" ? 'n' : 'p';
    job.id_prefix = options.direction == "a2b" ? fmt::format("g{}c", a) : fmt::format("gc{}", a);
    std::vector<const data::ManifestRow*> selected;
    for (const auto& r : rows)
      if (r.split == "train" && r.label == label) selected.push_back(&r);
    std::sort(selected.begin(), selected.end(),
              [](const auto* x, const auto* y) { return x->id < y->id; });
    if (selected.empty())
      throw UsageError(fmt::format("{} has no training-split images labelled '{}' to translate",
                                   run_dir.manifest().string(), label));
    for (const auto* r : selected)
      job.sources.push_back(
          {r->id, r->patient_id, r->split, data::image_path(run_dir.data_dir(), *r)});
    const auto g = load_translator(run_dir.gan_dir(task), options.direction);
    if (!g.info.task.empty() && g.info.task != task)
      throw UsageError(fmt::format("{}: the generator was trained for task '{}', not '{}'",
                                   (run_dir.gan_dir(task) / "generator.json").string(), g.info.task,
                                   task));
    return run_job(job, g, options, shard, merge_only);
  });
}

SynthStats run_synthesize_files(const SynthOptions& options, const fs::path& checkpoint,
                                const fs::path& input, const fs::path& out_dir, Shard shard,
                                bool merge_only) {
  return with_context("while synthesizing " + input.string(), [&] {
    if (!fs::exists(checkpoint))
      throw UsageError(
          fmt::format("--checkpoint {}: no such file or directory", checkpoint.string()));
    if (!fs::exists(input))
      throw UsageError(fmt::format("--input {}: no such file or directory", input.string()));
    const fs::path dir = fs::is_directory(checkpoint) ? checkpoint : checkpoint.parent_path();
    SynthJob job;
    job.out_dir = out_dir;
    job.id_prefix = "syn";
    if (fs::is_directory(input)) {
      std::vector<std::pair<std::string, fs::path>> files;
      const fs::path out_abs = fs::weakly_canonical(out_dir);
      for (auto it = fs::recursive_directory_iterator(input);
           it != fs::recursive_directory_iterator(); ++it) {
        // Never read our own outputs back when --out lies inside --input.
        if (it->is_directory() && fs::weakly_canonical(it->path()) == out_abs) {
          it.disable_recursion_pending();
          continue;
        }
        if (!it->is_regular_file() || !data::is_supported_image_extension(it->path())) continue;
        if (it->path().filename().string().rfind('.', 0) == 0) continue;  // hidden / temp
        files.emplace_back(fs::relative(it->path(), input).generic_string(), it->path());
      }
      std::sort(files.begin(), files.end());
      for (auto& [rel, path] : files) job.sources.push_back({rel, "", "external", path});
      if (job.sources.empty())
        throw UsageError(
            fmt::format("--input {}: no supported images (png, jpg, jpeg, dcm, "
                        "dicom, dic) found",
                        input.string()));
    } else if (input.extension() == ".csv") {
      auto rows = data::read_manifest(input);
      std::sort(rows.begin(), rows.end(), [](const auto& x, const auto& y) { return x.id < y.id; });
      for (const auto& r : rows)
        job.sources.push_back(
            {r.id, r.patient_id, r.split, data::image_path(input.parent_path(), r)});
      if (job.sources.empty())
        throw UsageError(fmt::format("--input {}: the manifest has no rows", input.string()));
    } else {
      throw UsageError(fmt::format(
          "--input {}: expected a folder of images or a data manifest (.csv)", input.string()));
    }
    const auto g = load_translator(dir, options.direction);
    return run_job(job, g, options, shard, merge_only);
  });
}

}  // namespace cxrsynth::synth
