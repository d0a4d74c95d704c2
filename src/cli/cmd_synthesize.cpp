// `cxrsynth synthesize --task T --run-dir R [--shard i/N] [--merge]`: translates every training
// image of the task's majority class with R/gan/<task>/'s generator into R/synthetic/<task>/.
// `cxrsynth synthesize --checkpoint C --input DIR|MANIFEST --out DIR`: users' own images.
// (synth/synthesize.h; output layout, sharding and resume in synth/engine.h.)
#include <memory>

#include "cli/common.h"
#include "core/error.h"
#include "core/log.h"
#include "data/tasks.h"
#include "dist/env.h"
#include "synth/synthesize.h"

namespace cxrsynth::cli {

namespace {
struct SynthArgs {
  CommonArgs common;
  std::string task, checkpoint, input, out, shard = "0/1";
  bool merge = false;
};
}  // namespace

void add_synthesize_command(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  auto* cmd = app.add_subcommand(
      "synthesize",
      "Translate the training images of a task's Normal/Pneumonia class with its trained "
      "generator (G_NC / G_PC) into R/synthetic/<task>/ (PNG + provenance manifest.csv); or any "
      "images with --checkpoint/--input/--out");
  add_common_options(*cmd, a->common, /*needs_run_dir=*/false);
  cmd->add_option("--task", a->task, "normal-vs-covid | pneumonia-vs-covid (with --run-dir)")
      ->check(CLI::IsMember(data::task_names()));
  cmd->add_option("--checkpoint", a->checkpoint,
                  "Generator directory (generator.json + generator_ab.pt) or a file in it");
  cmd->add_option("--input", a->input, "Folder of images (png, jpg, DICOM) or a data manifest");
  cmd->add_option("--out", a->out, "Output directory (with --checkpoint/--input)");
  auto* shard_opt =
      cmd->add_option("--shard", a->shard,
                      "i/N: process batches b with b % N == i; the union of all shards equals the "
                      "unsharded run byte for byte; the last shard to finish writes manifest.csv. "
                      "Default: RANK/WORLD_SIZE (or SLURM_PROCID/SLURM_NTASKS) when set, else 0/1");
  cmd->add_flag("--merge", a->merge,
                "Compute nothing: write manifest.csv from the shards' journals (fails naming "
                "what is missing when a shard has not finished)");
  cmd->callback([a, shard_opt] {
    const bool task_mode = !a->task.empty();
    const bool file_mode = !a->checkpoint.empty() || !a->input.empty() || !a->out.empty();
    if (task_mode == file_mode)
      throw UsageError(
          "synthesize: give either --task with --run-dir, or --checkpoint, --input and --out");
    synth::Shard shard = synth::parse_shard(a->shard);
    // One shard per process of a data-parallel job (cxrsynth launch, torchrun, srun).
    const auto& env = dist::dist_env();
    const bool from_env = shard_opt->count() == 0 && env.distributed();
    if (from_env) shard = synth::parse_shard(fmt::format("{}/{}", env.rank, env.world_size));
    auto log_shard = [&] {
      if (from_env)
        log_info("synthesize: shard {}/{} from the {} variables (rank {} of {})", shard.index,
                 shard.count, env.source, env.rank, env.world_size);
      else if (env.distributed())
        log_info("synthesize: --shard {} given; the rank variables are ignored", a->shard);
    };
    if (task_mode) {
      if (a->common.run_dir.empty()) throw UsageError("synthesize --task needs --run-dir");
      const Config cfg = begin_stage(a->common, "synthesize");
      log_shard();
      synth::run_synthesize(cfg.synth, a->task, RunDir(a->common.run_dir), shard, a->merge);
    } else {
      if (a->checkpoint.empty() || a->input.empty() || a->out.empty())
        throw UsageError("synthesize: --checkpoint, --input and --out go together");
      if (!a->common.run_dir.empty())
        throw UsageError("synthesize: --run-dir goes with --task; with --input use --out");
      a->common.run_dir = a->out;  // config.json and log.jsonl go beside the outputs
      const Config cfg = begin_stage(a->common, "synthesize");
      log_shard();
      synth::run_synthesize_files(cfg.synth, a->checkpoint, a->input, a->out, shard, a->merge);
    }
  });
}

}  // namespace cxrsynth::cli
