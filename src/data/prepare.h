// The `prepare` stage: sources -> R/data/manifest.csv, R/data/images/, R/data/summary.json,
// R/data/rejected.csv (always written; header only when nothing was rejected).
#pragma once

#include <cstdint>

#include "core/run_dir.h"
#include "data/prepare_options.h"

namespace cxrsynth::data {

// Reads every enabled source, decodes and stores the images (on `threads` workers; 0 = all
// cores; outputs do not depend on it), splits by patient, undersamples the GAN subsets and
// writes the manifest and the summary (printed as the paper's Fig. 3 table). Same options and
// seed -> byte-identical manifest. Throws UsageError when no source is enabled.
void run_prepare(const PrepareOptions& options, std::uint64_t seed, const RunDir& run_dir,
                 int threads = 0);

}  // namespace cxrsynth::data
