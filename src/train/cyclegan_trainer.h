// The `train-gan` stage: trains a CycleGAN for one task and writes R/gan/<task>/:
//   checkpoint.pt     everything to continue exactly (train/checkpoint.h format): the four
//                     networks, both Adam states, the step (epoch and scheduler position follow
//                     from it), both image pools, LibTorch's default-generator state, the
//                     options text and its sha256. Data order, augmentation and pool draws are
//                     derived from (seed, task, epoch/step) (gan_dataset.h), so they need no
//                     stored state. Written atomically every checkpoint_every steps and at the
//                     end; --resume continues from it bit for bit (same thread count), refusing
//                     changed options with the list of differences.
//   losses.csv        one row per step: step, epoch, lr, g_adv_a, g_adv_b, cycle_a, cycle_b,
//                     idt_a, idt_b, g_total, d_a, d_b, time_s (see gan_losses.h). On resume the
//                     rows after the checkpoint's step are dropped, so the file equals an
//                     uninterrupted run's except for time_s.
//   samples/step_NNNNNNNN.png  rows of real A | G_A(a) | G_B(G_A(a)) | real B | G_B(b) |
//                     G_A(G_B(b)) for fixed training images, every sample_every steps and at
//                     the end.
//   generator_ab.pt + generator.json  G_A alone for the synthesis stage
//                     (models/cyclegan/generator_io.h: load_generator(dir)); rewritten with
//                     each checkpoint, so it always matches checkpoint.pt's step.
//   summary.json      steps, final losses, mean |G_A(a) - a| and |G_B(b) - b| on the fixed
//                     images (in [0, 1] units), warnings.
// Each step is train::cyclegan_step (cyclegan_step.h; benchmarks/gan_step times it).
// Diagnostics: a non-finite loss stops training naming the epoch and step (checkpoint.pt from
// before stays intact); warnings when a discriminator's loss stays near zero for 100 steps
// (collapse; not with wgan-gp, whose critic loss is a signed score difference) or when G_A is
// still about the identity at the end.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/run_dir.h"
#include "train/gan_dataset.h"
#include "train/gan_options.h"

namespace cxrsynth::train {

struct TrainGanRun {
  std::string task;
  std::uint64_t seed = 0;  // the run seed; consumers derive theirs ("gan/<task>/init", ...)
  bool resume = false;
  // Tests: stop after this many steps (a checkpoint is written there), as if interrupted.
  std::int64_t stop_after_steps = -1;
};

struct TrainGanResult {
  std::int64_t steps = 0;         // steps done in total
  std::int64_t total_steps = 0;   // epochs x steps per epoch
  std::int64_t resumed_from = 0;  // checkpoint step resumed from (0 = fresh)
  double mean_abs_change_ab = 0;  // mean |G_A(a) - a| on the fixed A images, [0, 1] units
  double mean_abs_change_ba = 0;
  std::vector<std::string> warnings;
};

// Trains on an in-memory dataset, writing into out_dir (created). Throws UsageError when
// out_dir already holds a checkpoint and run.resume is false, or when resuming with options
// that differ from the checkpoint's.
TrainGanResult train_cyclegan(const GanOptions& options, const GanDataset& data,
                              const TrainGanRun& run, const std::filesystem::path& out_dir);

// The stage: the task's GAN subset from R/data/manifest.csv -> train_cyclegan -> R/gan/<task>/.
TrainGanResult run_train_gan(const GanOptions& options, const std::string& task, std::uint64_t seed,
                             bool resume, const RunDir& run_dir);

// The options a checkpoint records, one `key = value` per line (every gan key except the
// output cadence ones, plus task, seed and the data fingerprint).
std::string checkpoint_options_text(const GanOptions& o, const std::string& task,
                                    std::uint64_t seed, const std::string& data_fingerprint);

// Lines "key: checkpoint X, now Y" for keys that differ (empty when equal).
std::vector<std::string> diff_options_text(const std::string& stored, const std::string& now);

}  // namespace cxrsynth::train
