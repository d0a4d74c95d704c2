// `cxrsynth demo`: the whole method on built-in phantoms (issue #7 item 2,
// ../shared/design/PHANTOM-DEMO.md): prepare phantom data with a skewed COVID-19 class, train
// both CycleGANs on the classifier's own training images (as the paper does), synthesize G_NC
// and G_PC, run the experiment grid, check that the generators really changed the images, and
// say plainly whether the synthetic images raised sensitivity (with intervals). The report is
// rendered by the CLI afterwards (cmd_demo.cpp runs `cxrsynth report`).
#pragma once

#include <cstdint>
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
};

// Below this mean lung edit the "synthetic" positives are copies of their sources.
inline constexpr double kMinLungEdit = 0.004;

// Measures up to `max_images` translations of R/synthetic/<task>/ against their sources.
TranslationCheck check_translation(const RunDir& run_dir, const std::string& task,
                                   const Config& config, int max_images = 200);

struct DemoResult {
  ExperimentResult experiment;
  std::vector<TranslationCheck> checks;
  std::string summary;  // the verdict text printed and written to R/demo/summary.md
};

// Runs the grid (run_experiment with config.experiment), the translation checks and the
// verdict; writes R/demo/summary.md and prints the tables and the verdict. Throws UsageError
// unless the data come from the phantom source only.
DemoResult run_demo(const Config& config, const RunDir& run_dir);

}  // namespace cxrsynth::experiment
