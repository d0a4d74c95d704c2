// The `synthesize` stage (issue 5, METHOD.md section 2 end): translate every training image of a
// task's majority class with the trained generator, or users' own images with any checkpoint,
// into single-channel PNGs with a provenance manifest (synth/engine.h has the output layout,
// the journal, sharding and resume). Torch-free header.
#pragma once

#include <filesystem>
#include <string>

#include "core/run_dir.h"
#include "synth/engine.h"
#include "synth/synth_options.h"

namespace cxrsynth::synth {

// Task mode: sources are the rows of R/data/manifest.csv with split train and label A (a2b:
// normal for normal-vs-covid = G_NC, pneumonia for pneumonia-vs-covid = G_PC) or B (b2a),
// sorted by id; the generator is R/gan/<task>/ (generator.json + generator_ab.pt for a2b;
// checkpoint.pt's G_B for b2a). Writes R/synthetic/<task>/. With merge_only, computes nothing
// and only writes manifest.csv when all shards are complete (UsageError naming what is missing
// otherwise).
SynthStats run_synthesize(const SynthOptions& options, const std::string& task,
                          const RunDir& run_dir, Shard shard = {}, bool merge_only = false);

// Any-input mode: `checkpoint` is a generator directory (generator.json + generator_ab.pt, as
// R/gan/<task>/) or a file inside one; `input` is a folder (every supported image below it,
// DICOM included, sorted by relative path; source_split "external") or a data manifest .csv
// (all rows, sorted by id, with their patient ids and splits). Outputs are named
// "syn-NNNNNN.png" in out_dir/images/.
SynthStats run_synthesize_files(const SynthOptions& options,
                                const std::filesystem::path& checkpoint,
                                const std::filesystem::path& input,
                                const std::filesystem::path& out_dir, Shard shard = {},
                                bool merge_only = false);

}  // namespace cxrsynth::synth
