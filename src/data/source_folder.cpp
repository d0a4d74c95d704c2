// A folder of labelled images: <root>/<label>/**/<image> (label folders normal, pneumonia,
// covid, any case, "COVID-19" too), or the rows of a labels CSV (path,label and optionally
// patient_id, subtype, view). Patient ids come from the CSV, else from patient_regex on the
// file name, else each image is its own patient (with a warning: duplicates of one patient
// could then land in two splits).
#include <fmt/format.h>

#include <algorithm>
#include <regex>

#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "data/image_io.h"
#include "data/sources.h"

namespace cxrsynth::data {
namespace {

struct Entry {
  fs::path file;
  std::string rel, label, patient, subtype, view, where;
};

std::vector<Entry> scan_label_folders(const fs::path& root, SourceResult& r) {
  std::vector<Entry> out;
  std::vector<fs::path> dirs;
  for (const auto& d : fs::directory_iterator(root)) {
    if (d.is_directory()) dirs.push_back(d.path());
  }
  std::sort(dirs.begin(), dirs.end());
  for (const auto& dir : dirs) {
    const std::string label = normalise_label(dir.filename().string());
    std::vector<fs::path> files;
    for (const auto& f : fs::recursive_directory_iterator(dir)) {
      if (f.is_regular_file() && is_supported_image_extension(f.path())) files.push_back(f.path());
    }
    std::sort(files.begin(), files.end());
    if (label.empty()) {
      if (!files.empty()) {
        log_warn(
            "{}: folder {} is not a label (normal, pneumonia, covid); its {} image(s) are "
            "left out",
            r.name, dir.string(), files.size());
      }
      r.input_rows += static_cast<std::int64_t>(files.size());
      r.count("not_a_label_folder", static_cast<std::int64_t>(files.size()));
      continue;
    }
    for (const auto& f : files) {
      Entry e;
      e.file = f;
      e.rel = fs::relative(f, root).generic_string();
      e.label = label;
      e.where = f.string();
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace

SourceResult read_folder(const FolderOptions& o, bool skip_bad) {
  if (o.root.empty()) {
    throw UsageError(fmt::format("data.{}: enabled but root is empty", o.name));
  }
  const fs::path root(o.root);
  if (!fs::is_directory(root)) throw Error(fmt::format("{}: no such folder", root.string()));
  SourceResult r;
  r.name = o.name;
  r.count("not_a_label_folder", 0);
  std::vector<Entry> entries;
  bool csv_patients = false;
  if (!o.labels_csv.empty()) {
    const fs::path csv_path =
        fs::path(o.labels_csv).is_absolute() ? fs::path(o.labels_csv) : root / o.labels_csv;
    const CsvTable t = read_csv(csv_path);
    t.require_columns({"path", "label"});
    const auto pcol = t.find_column("patient_id");
    const auto scol = t.find_column("subtype");
    const auto vcol = t.find_column("view");
    csv_patients = pcol.has_value();
    for (std::size_t i = 0; i < t.size(); ++i) {
      ++r.input_rows;
      Entry e;
      e.rel = t.at(i, "path");
      e.file = fs::path(e.rel).is_absolute() ? fs::path(e.rel) : root / e.rel;
      e.label = normalise_label(t.at(i, "label"));
      e.where = t.where(i);
      if (e.label.empty() || e.rel.empty()) {
        const std::string reason =
            e.rel.empty() ? "column path: empty"
                          : fmt::format("column label: '{}' is not normal, pneumonia or covid",
                                        t.at(i, "label"));
        if (!skip_bad) throw Error(fmt::format("{}: {}", t.where(i), reason));
        r.rejected.push_back({r.name, t.where(i), e.file.string(), reason});
        continue;
      }
      if (pcol) e.patient = t.row(i)[*pcol];
      if (scol) e.subtype = t.row(i)[*scol];
      if (vcol) e.view = t.row(i)[*vcol];
      entries.push_back(std::move(e));
    }
  } else {
    entries = scan_label_folders(root, r);
    r.input_rows += static_cast<std::int64_t>(entries.size());
  }

  std::optional<std::regex> re;
  if (!o.patient_regex.empty()) {
    try {
      re.emplace(o.patient_regex);
    } catch (const std::regex_error& e) {
      throw UsageError(fmt::format("data.{}.patient_regex: invalid regex '{}': {}", o.name,
                                   o.patient_regex, e.what()));
    }
  }
  std::size_t own_patient = 0;
  for (auto& e : entries) {
    if (e.patient.empty() && re) {
      std::smatch m;
      const std::string name = e.file.filename().string();
      if (std::regex_search(name, m, *re)) {
        e.patient = m.size() > 1 && m[1].matched ? m[1].str() : m[0].str();
      } else {
        const std::string reason =
            fmt::format("file name '{}' does not match patient_regex '{}'", name, o.patient_regex);
        if (!skip_bad) throw Error(fmt::format("{}: {}", e.where, reason));
        r.rejected.push_back({r.name, e.where, e.file.string(), reason});
        e.label.clear();
        continue;
      }
    }
    if (e.patient.empty()) {
      e.patient = "image:" + e.rel;
      ++own_patient;
    }
    Candidate c;
    std::string stem = e.rel;
    const auto dot = stem.rfind('.');
    if (dot != std::string::npos && stem.find('/', dot) == std::string::npos) stem.resize(dot);
    c.row.id = o.name + "-" + safe_id(stem);
    c.row.source = r.name;
    c.row.patient_id = o.name + ":" + e.patient;
    c.row.label = e.label;
    c.row.subtype = e.subtype;
    c.row.view = e.view;
    c.row.original_path = e.file.string();
    c.file = e.file;
    c.where = e.where;
    r.candidates.push_back(std::move(c));
  }
  if (own_patient > 0) {
    log_warn(
        "{}: {} image(s) have no patient id ({}); each is treated as its own patient, so "
        "images of one patient may land in different splits",
        r.name, own_patient,
        csv_patients ? "empty patient_id cells"
                     : "set labels_csv with a patient_id column or "
                       "patient_regex");
  }
  return r;
}

}  // namespace cxrsynth::data
