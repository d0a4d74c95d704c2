// The `audit` stage (issue 10 item 4; docs/AUDIT.md): is a task's synthetic set a copy of
// training patients, does it carry their identifiers, and how far is it from real COVID-19
// images? Reads R/data/manifest.csv, R/synthetic/<task>/ and a classifier trained in the run
// (R/classifiers/<task>/<config>/<arch>/model.pt); writes R/audit/<task>/:
//   nearest.csv   one row per synthetic image: its nearest COVID-19 (target-domain) and
//                 Normal/Pneumonia (source-domain) TRAINING images in pixel and feature space,
//                 the distances, whether the nearest source-domain image is its own source,
//                 and the memorization flags
//   baseline.csv  the real-vs-real baseline: each COVID-19 training image's nearest training
//                 image of another patient, in both spaces
//   phi.csv       the PHI check (audit/phi_check.h): item, check, status, detail
//   audit.json    thresholds, distribution summaries, flagged counts, the closest pairs, the PHI
//                 verdict, FID and KID with bootstrap intervals (schema "cxrsynth.audit/1")
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "audit/audit_options.h"
#include "audit/fid_kid.h"
#include "core/run_dir.h"

namespace cxrsynth::audit {

struct AuditResult {
  std::string task;
  std::string classifier;  // "<config>/<arch>", empty when none was available
  std::int64_t synthetic = 0, target_train = 0, source_train = 0, target_test = 0;
  double pixel_threshold = 0, feature_threshold = 0;
  std::int64_t pixel_flagged = 0, feature_flagged = 0, flagged = 0;
  double own_source_fraction_pixel = 0;  // nearest source-domain image is the own source
  bool phi_passed = false;
  std::int64_t phi_failures = 0;
  bool has_fid_kid = false;
  FidKidResult fid_kid;       // synthetic vs real COVID-19 test
  FidKidResult fid_kid_real;  // real COVID-19 train vs real COVID-19 test (reference)
  std::vector<std::string> warnings;
  std::filesystem::path out_dir;
};

AuditResult run_audit(const AuditOptions& options, const std::string& task, std::uint64_t run_seed,
                      int threads, const RunDir& run_dir);

// R/audit/<task>
std::filesystem::path audit_output_dir(const RunDir& run_dir, const std::string& task);

// The lines `cxrsynth audit` prints.
std::string format_audit_summary(const AuditResult& result);

}  // namespace cxrsynth::audit
