// Patient-level splits, duplicate detection and GAN undersampling.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/manifest.h"

namespace cxrsynth::data {

// Rows that show the same picture: equal sha256 of the original, or nearly equal 16x16
// thumbnails (mean |diff| <= 1.5 grey levels and no pixel off by more than 12).
struct DuplicateReport {
  std::int64_t clusters = 0;          // groups of 2+ rows showing the same picture
  std::int64_t rows = 0;              // rows in those groups
  std::int64_t cross_source = 0;      // groups spanning two or more sources
  std::int64_t cross_patient = 0;     // groups spanning two or more patient ids
  std::vector<std::string> examples;  // "id1 = id2 (...)", up to 10
};

struct SplitReport {
  DuplicateReport duplicates;
  std::int64_t paper_moved_rows = 0;  // paper mode: rows moved to keep a patient in one split
  std::vector<std::string> paper_moved_patients;  // up to 10
};

// Assigns rows[i].split. `thumbs[i]` is the thumbnail of row i (see preprocess.h).
// Groups = patients joined through duplicates (the same picture under two patient ids is one
// group). grouped: per label stratum (a mixed group counts as its rarest label, covid first),
// groups shuffled with Rng(derive_seed(seed, "data/split/<label>")), test then val filled to
// round(fraction * images); paper: per label, rows in input order, the first
// floor((1 - test_fraction) * n) train (the last val_fraction of those val), the rest test;
// then any group straddling splits moves to the split of its first row.
SplitReport assign_splits(std::vector<ManifestRow>& rows, const std::vector<std::string>& thumbs,
                          const std::string& mode, double test_fraction, double val_fraction,
                          std::uint64_t seed);

struct GanSubsetCount {
  std::string task, label;
  std::int64_t available = 0, chosen = 0;
};

// For each task and domain, marks min(per_domain, available) train rows of that label in
// gan_tasks, chosen with Rng(derive_seed(seed, "data/gan/<task>/<label>")).
std::vector<GanSubsetCount> assign_gan_subsets(std::vector<ManifestRow>& rows, int per_domain,
                                               std::uint64_t seed);

}  // namespace cxrsynth::data
