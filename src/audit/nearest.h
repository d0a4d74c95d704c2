// Nearest-neighbour search for the memorization audit (audit.h): exact Euclidean distances
// between row vectors (candidates from chunked float64 matrix products, the reported distance
// recomputed directly so identical rows give exactly 0). Torch-free header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "audit/fid_kid.h"

namespace cxrsynth::audit {

struct Nearest {
  std::vector<std::int64_t> index;  // per query row: nearest reference row, -1 when none
  std::vector<double> distance;     // NaN when none
};

// For each row of `queries`, its nearest row of `refs`. When groups are given (one name per
// row, both sides), references of the query's own group are skipped: the real-vs-real baseline
// compares distinct patients only.
Nearest nearest_neighbours(const FeatureMatrix& queries, const FeatureMatrix& refs,
                           const std::vector<std::string>& query_groups = {},
                           const std::vector<std::string>& ref_groups = {});

// Euclidean distance between row q of `a` and row r of `b`.
double row_distance(const FeatureMatrix& a, std::int64_t q, const FeatureMatrix& b, std::int64_t r);

// Pixel space: each row z-normalised (mean 0, population standard deviation 1; a constant row
// becomes zeros) and divided by sqrt(cols), so the Euclidean distance of two rows is
// sqrt(2 (1 - r)), r their Pearson correlation: 0 for identical images up to brightness and
// contrast, sqrt(2) for uncorrelated ones, 2 for inverted ones.
FeatureMatrix zscore_rows(FeatureMatrix m);

}  // namespace cxrsynth::audit
