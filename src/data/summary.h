// The prepare summary: every input row accounted for per source (kept, removed by which
// filter, rejected), duplicates, per-split class counts, each task's counts and skew
// (negatives / positives in train, eq. 6) and the GAN subsets. Written as R/data/summary.json
// and printed as a table (the paper's Fig. 3).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/manifest.h"
#include "data/prepare_options.h"
#include "data/split.h"

namespace cxrsynth::data {

struct SourceSummary {
  std::string name;
  std::int64_t input_rows = 0, kept = 0, rejected = 0;
  std::vector<std::pair<std::string, std::int64_t>> filtered;  // in the order applied
  std::vector<std::string> missing_examples;                   // skip_missing: first few
};

struct TaskSummary {
  std::string task, label_a, label_b;
  std::int64_t negatives[3] = {0, 0, 0};  // train, val, test (label A)
  std::int64_t positives[3] = {0, 0, 0};  // train, val, test (label B)
  double skew = 0;                        // eq. 6, train; 0 when there are no positives
  std::int64_t gan_a = 0, gan_b = 0;
};

struct PrepareSummary {
  std::uint64_t seed = 0;
  int image_size = 0;
  std::string split_mode;
  std::vector<SourceSummary> sources;
  SplitReport split;
  std::int64_t counts[3][3] = {};  // [split][label] in kSplits x kLabels order
  std::int64_t patients[3] = {};   // per split
  std::vector<TaskSummary> tasks;
};

// Checks that every source's input rows add up (kept + filtered + rejected) and fills counts.
PrepareSummary summarise(const PrepareOptions& o, std::uint64_t seed,
                         const std::vector<SourceSummary>& sources, const SplitReport& split,
                         const std::vector<GanSubsetCount>& gan,
                         const std::vector<ManifestRow>& rows);

std::string summary_json(const PrepareSummary& s);
std::string summary_table(const PrepareSummary& s);

}  // namespace cxrsynth::data
