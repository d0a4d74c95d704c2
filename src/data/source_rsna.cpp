// RSNA Pneumonia Detection Challenge (Kaggle stage 2): stage_2_train_labels.csv has one row per
// bounding box, so patients repeat; rows are merged per patientId (first row's position kept,
// counted as `duplicate_patient_rows`). Pneumonia = Target 1. Normal = class "Normal" in
// stage_2_detailed_class_info.csv (normal-class) or every Target 0 patient (target0, the
// authors). Images: <images_dir>/<patientId>.dcm, else .png/.jpg/.jpeg.
#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "data/sources.h"

namespace cxrsynth::data {
namespace {

fs::path find_image(const fs::path& dir, const std::string& patient) {
  for (const char* ext : {".dcm", ".png", ".jpg", ".jpeg"}) {
    fs::path p = dir / (patient + ext);
    std::error_code ec;
    if (fs::exists(p, ec)) return p;
  }
  return dir / (patient + ".dcm");  // reported as missing
}

}  // namespace

SourceResult read_rsna(const RsnaOptions& o, bool skip_bad) {
  if (o.root.empty()) throw UsageError("data.rsna.enabled is true but data.rsna.root is empty");
  const fs::path root(o.root);
  const CsvTable t = read_csv(root / o.labels_csv);
  t.require_columns({"patientId", "Target"});
  const bool need_class = o.normal_definition == "normal-class";
  std::unordered_map<std::string, std::string> class_of;
  const fs::path class_path = root / o.class_info_csv;
  std::error_code ec;
  if (need_class || fs::exists(class_path, ec)) {
    const CsvTable c = read_csv(class_path);
    c.require_columns({"patientId", "class"});
    for (std::size_t i = 0; i < c.size(); ++i)
      class_of.emplace(c.at(i, "patientId"), c.at(i, "class"));
  }

  SourceResult r;
  r.name = "rsna";
  r.input_rows = static_cast<std::int64_t>(t.size());
  for (const char* f : {"duplicate_patient_rows", "no_class_info", "not_normal_class", "label"})
    r.count(f, 0);
  // Merge box rows per patient, in first-appearance order.
  struct Patient {
    std::size_t first_row;
    int target;
  };
  std::vector<std::string> order;
  std::unordered_map<std::string, Patient> patients;
  for (std::size_t i = 0; i < t.size(); ++i) {
    const std::string& pid = t.at(i, "patientId");
    std::int64_t target = -1;
    std::string reason;
    if (pid.empty()) {
      reason = "column patientId: empty";
    } else {
      try {
        target = t.get_int(i, "Target");
      } catch (const Error&) {
      }
      if (target != 0 && target != 1)
        reason = fmt::format("column Target: expected 0 or 1, got '{}'", t.at(i, "Target"));
    }
    if (!reason.empty()) {
      if (!skip_bad) throw Error(fmt::format("{}: {}", t.where(i), reason));
      r.rejected.push_back({r.name, t.where(i), "", reason});
      continue;
    }
    auto [it, inserted] = patients.emplace(pid, Patient{i, static_cast<int>(target)});
    if (inserted) {
      order.push_back(pid);
    } else {
      r.count("duplicate_patient_rows");
      it->second.target = std::max(it->second.target, static_cast<int>(target));
    }
  }
  const fs::path images = root / o.images_dir;
  for (const std::string& pid : order) {
    const Patient& p = patients.at(pid);
    const auto cls = class_of.find(pid);
    std::string label;
    if (p.target == 1) {
      label = "pneumonia";
    } else if (!need_class) {
      label = "normal";
    } else if (cls == class_of.end()) {
      r.count("no_class_info");
      continue;
    } else if (cls->second == "Normal") {
      label = "normal";
    } else {
      r.count("not_normal_class");
      continue;
    }
    if (std::find(o.labels.begin(), o.labels.end(), label) == o.labels.end()) {
      r.count("label");
      continue;
    }
    Candidate c;
    c.file = find_image(images, pid);
    c.row.id = "rsna-" + safe_id(pid);
    c.row.source = r.name;
    c.row.patient_id = "rsna:" + pid;
    c.row.label = label;
    c.row.subtype = cls == class_of.end() ? "" : cls->second;
    c.row.original_path = c.file.string();
    c.where = t.where(p.first_row);
    if (o.view != "all") c.require_view = o.view;
    r.candidates.push_back(std::move(c));
  }
  if (need_class && r.filtered[1].second > 0) {
    log_warn("rsna: {} Target 0 patient(s) have no row in {} and were left out (normal-class)",
             r.filtered[1].second, class_path.string());
  }
  return r;
}

}  // namespace cxrsynth::data
