// `cxrsynth demo`: the whole method on built-in phantoms (issue #7 item 2,
// ../shared/design/PHANTOM-DEMO.md): prepare phantom data with a skewed COVID-19 class, train
// both CycleGANs on the classifier's own training images (as the paper does), synthesize G_NC
// and G_PC, run the experiment grid, check that the generators really changed the images, and
// say plainly whether the synthetic images raised sensitivity (with intervals). The report is
// rendered by the CLI afterwards (cmd_demo.cpp runs `cxrsynth report`).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/run_dir.h"
#include "experiment/experiment.h"

namespace cxrsynth::experiment {

// How much a generator changed its inputs (sources vs their translations), in [0, 1] units.
struct TranslationCheck {
  std::string task;
  int images = 0;                // translations measured
  int mask_failures = 0;         // sources whose lung fields could not be estimated (skipped)
  double mean_lung_edit = 0;     // mean |G(x) - x| inside the (estimated) lung fields
  double mean_outside_edit = 0;  // mean |G(x) - x| outside them
  // Lung-opacity score moved from the source class towards COVID-19: 0 = unchanged, 1 = as far
  // as the phantom COVID-19 class mean (data::phantom_score_summary, estimated masks).
  double score_progress = 0;
  bool changed = false;  // mean_lung_edit >= kMinLungEdit
  // Mask-free: the mean edit G(x) - x projected on mean-image differences of the real TRAIN
  // images (1 = the whole difference): towards COVID-19 (mean covid - mean source class),
  // COVID-19 lesions added (mean covid - mean normal) and, from pneumonia, consolidation
  // removed (mean normal - mean pneumonia). NaN when a class has no training image.
  double towards_covid = 0, lesions_added = 0, consolidation_removed = 0;
};

// Below this mean lung edit the "synthetic" positives are copies of their sources.
inline constexpr double kMinLungEdit = 0.004;

// Measures up to `max_images` translations of R/synthetic/<task>/ against their sources.
TranslationCheck check_translation(const RunDir& run_dir, const std::string& task,
                                   const Config& config, int max_images = 200);

// Below this share of the real COVID-19 lesion pattern (TranslationCheck::lesions_added) a
// synthetic set is too weak to teach COVID-19 (measured on the phantoms: docs/DEMO.md).
inline constexpr double kMinLesionsAdded = 0.25;

// One line per task whose own synthetic configuration gave no clear gain (sensitivity intervals
// apart from Real's with higher balanced accuracy), saying what the measurements point to;
// empty when every task gained.
std::string explain_absent_effects(const std::vector<CellResult>& cells,
                                   const std::vector<TranslationCheck>& checks);

struct DemoResult {
  ExperimentResult experiment;
  std::vector<TranslationCheck> checks;
  std::string summary;  // the verdict text printed and written to R/demo/summary.md
};

// Trains the CycleGANs of `tasks` (each lacking R/gan/<task>/generator_ab.pt) into the run
// directory, e.g. side by side in child processes (cmd_demo.cpp).
using GanTrainer = std::function<void(const std::vector<std::string>& tasks)>;

// Prepares the data, has `train_gans` (when given) train the CycleGANs the grid still lacks,
// runs the grid (run_experiment with config.experiment; it trains any CycleGAN still missing
// itself), the translation checks and the verdict; writes R/demo/summary.md and prints the
// tables and the verdict. Throws UsageError unless the data come from the phantom source only.
DemoResult run_demo(const Config& config, const RunDir& run_dir, const GanTrainer& train_gans = {});

}  // namespace cxrsynth::experiment
