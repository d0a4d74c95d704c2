// Source readers: each turns one dataset layout into candidate manifest rows and counts what
// it filtered, so the prepare summary accounts for every input row. Images are not decoded
// here (see preprocess.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "data/manifest.h"
#include "data/prepare_options.h"

namespace cxrsynth::data {

// One input row that passed the reader's filters.
struct Candidate {
  ManifestRow row;           // id, source, patient_id, label, subtype, view, original_path filled
  fs::path file;             // the image to decode
  std::string where;         // "metadata.csv:12": the input row, for messages and rejected.csv
  std::string require_view;  // non-empty: keep only if the DICOM ViewPosition equals it
};

// A row a reader refused with --skip-bad (bad value in a CSV row).
struct Rejection {
  std::string source, where, file, reason;
};

struct SourceResult {
  std::string name;
  std::int64_t input_rows = 0;
  // Filter name -> rows it removed, in the order applied.
  std::vector<std::pair<std::string, std::int64_t>> filtered;
  std::vector<Candidate> candidates;
  std::vector<Rejection> rejected;
  std::vector<std::string> missing_examples;  // skip_missing: the first missing files

  void count(const std::string& filter, std::int64_t n = 1);
};

// Cohen label mapping (documented in the .cpp): covid for `covid_findings`, pneumonia for
// bacterial / viral non-COVID / fungal / unspecified pneumonia findings, normal for
// "No Finding"; anything else ("todo", ARDS, Lipoid ...) is filtered as `finding`.
SourceResult read_cohen(const CohenOptions& o, bool skip_bad);
SourceResult read_rsna(const RsnaOptions& o, bool skip_bad);
SourceResult read_folder(const FolderOptions& o, bool skip_bad);

// "COVID-19" -> {"covid", "viral"}-style helpers shared by readers: lowercase label names
// from folder names / CSV cells ("COVID-19", "Normal" ...); empty when unknown.
std::string normalise_label(const std::string& text);

// A filesystem-safe id: characters outside [A-Za-z0-9._-] become '_'.
std::string safe_id(const std::string& text);

}  // namespace cxrsynth::data
