// The synthesis engine: applies a translator (a generator, or anything mapping
// [N, C, S, S] in [-1, 1] to the same) to a list of source images and writes a provenance
// manifest. Used by run_synthesize (synthesize.h) and directly by tests.
//
// Output directory layout (out_dir):
//   images/<id>.png      single-channel PNG, 16- or 8-bit, no text chunks; <id> is
//                        "<prefix>-<index, 6 digits>" with index the source's position in the
//                        job's deterministic order (never a patient identifier)
//   manifest.csv         one row per output, in index order (columns: manifest_columns()),
//                        written once every output of the job exists and is verified
//   journal/shard-<i>-of-<N>.csv  append-only, no header: one manifest row per output, written
//                        after the PNG's fsync + atomic rename. A rerun reads all
//                        journals, re-hashes the files they name and skips the verified ones;
//                        anything else (missing, partial, other checkpoint/options) is redone.
//
// Sharding: sources are cut into batches of batch_size in index order; shard i of N takes the
// batches b with b % N == i. An image is always computed in the same batch with the same
// neighbours, so the union of the shards' images equals the unsharded run byte for byte (same
// intra-op thread count). Each shard writes its own journal; whichever run finds every output of
// the job complete (the last shard to finish, or `--merge`) writes manifest.csv from the
// journals: identical bytes to an unsharded run's manifest.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "synth/synth_options.h"

namespace cxrsynth::synth {

namespace fs = std::filesystem;

// [N, C, S, S] float in [-1, 1] -> same shape, in [-1, 1]. Called from one thread.
using Translator = std::function<at::Tensor(const at::Tensor& batch)>;

struct SynthSource {
  std::string source_id;   // the data manifest id, or the path relative to the input folder
  std::string patient_id;  // empty when unknown (external inputs)
  std::string split;       // train (task mode); "external" for user inputs
  fs::path path;           // absolute (or cwd-relative) path of the image file
};

struct SynthJob {
  std::vector<SynthSource> sources;  // in the deterministic order; index = position
  fs::path out_dir;
  std::string id_prefix;          // "gnc", "gpc", "syn", ...
  std::string direction;          // a2b | b2a
  std::string checkpoint_sha256;  // of the weights file the translator came from
  std::string options_hash;       // options_hash(...) of everything that changes output bytes
  int image_size = 0;             // inputs are resized to image_size x image_size
  int channels = 1;               // generator channels (gray replicated in, averaged out)
  bool require_train = false;     // refuse any source whose split is not "train"
};

struct Shard {
  int index = 0;
  int count = 1;
};
// Parses "i/N" (0 <= i < N); throws UsageError otherwise.
Shard parse_shard(const std::string& text);

struct SynthStats {
  std::int64_t total = 0;              // outputs of the whole job
  std::int64_t in_shard = 0;           // outputs of this shard
  std::int64_t skipped = 0;            // already complete and verified
  std::int64_t written = 0;            // computed and written by this run
  double seconds = 0;                  // wall time of the compute loop
  double images_per_s = 0;             // written / seconds
  std::optional<double> bf16_psnr_db;  // bf16 against fp32 on the first images, when checked
  bool manifest_written = false;
};

// Columns of a synthetic manifest, in order.
const std::vector<std::string>& synthetic_manifest_columns();

// sha256 of a canonical "key=value\n" text of the given pairs (order kept).
std::string options_hash(const std::vector<std::pair<std::string, std::string>>& fields);

// True when the CPU has native bf16 dot products (/proc/cpuinfo flags avx512_bf16 or amx_bf16).
bool cpu_supports_bf16();

// Peak signal-to-noise ratio of b against a (both in [-1, 1], so peak-to-peak 2), in dB;
// infinity when equal.
double psnr_db(const at::Tensor& a, const at::Tensor& b);

// Runs shard `shard` of `job`. Throws UsageError on bad options or a non-train source when
// job.require_train; Error naming the file on decode/encode/write failures.
// `translate` is the fp32 model. With options.precision bf16, `bf16_translate` (when given,
// e.g. make_bf16_unet_translator) computes the outputs and `translate` only the fp32 PSNR
// check; without it, `translate` runs under CPU bf16 autocast.
SynthStats synthesize(const SynthJob& job, const Translator& translate, const SynthOptions& options,
                      Shard shard = {}, const Translator& bf16_translate = {});

// Writes out_dir/manifest.csv when every output of the job is present in a journal and its
// file verifies; returns false (writing nothing) otherwise, logging how many are missing.
bool merge_manifest(const SynthJob& job);

}  // namespace cxrsynth::synth
