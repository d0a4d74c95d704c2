// The COVID-19 image data collection (Cohen et al.): metadata.csv + images.
//
// Label mapping from `finding` (exact strings of the collection, as published 2020-06):
//   covid     the values in cohen.covid_findings (default exactly "COVID-19", as the authors)
//   pneumonia bacterial: Streptococcus, Klebsiella, Mycoplasma Bacterial Pneumonia, Legionella,
//             E.Coli, Bacterial, Chlamydophila, Staphylococcus, Nocardia;
//             viral (non-COVID): SARS, MERS, Influenza, Varicella, Herpes pneumonia;
//             fungal: Pneumocystis, Aspergillosis; unspecified: Pneumonia
//   normal    No Finding
//   anything else (todo, ARDS, Lipoid, "COVID-19, ARDS" unless selected ...) is removed by the
//   `finding` filter and counted.
// Filters, in order, each counted: empty_fields (finding, view, modality or filename empty:
// the authors' dropna), ct (modality CT), view (cohen.view = frontal), finding.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "core/csv.h"
#include "core/error.h"
#include "data/sources.h"

namespace cxrsynth::data {
namespace {

struct Mapped {
  std::string label, subtype;
};

Mapped map_finding(const std::string& finding, const CohenOptions& o) {
  if (std::find(o.covid_findings.begin(), o.covid_findings.end(), finding) !=
      o.covid_findings.end()) {
    return {"covid", finding};
  }
  static const std::map<std::string, std::string> kPneumonia = {
      {"Streptococcus", "bacterial"},
      {"Klebsiella", "bacterial"},
      {"Mycoplasma Bacterial Pneumonia", "bacterial"},
      {"Legionella", "bacterial"},
      {"E.Coli", "bacterial"},
      {"Bacterial", "bacterial"},
      {"Chlamydophila", "bacterial"},
      {"Staphylococcus", "bacterial"},
      {"Nocardia", "bacterial"},
      {"SARS", "viral"},
      {"MERS", "viral"},
      {"MERS-CoV", "viral"},
      {"Influenza", "viral"},
      {"Varicella", "viral"},
      {"Herpes pneumonia", "viral"},
      {"Pneumocystis", "fungal"},
      {"Aspergillosis", "fungal"},
      {"Pneumonia", "unspecified"},
  };
  if (auto it = kPneumonia.find(finding); it != kPneumonia.end()) {
    return {"pneumonia", it->second + "/" + finding};
  }
  if (finding == "No Finding") return {"normal", ""};
  return {};
}

bool is_frontal(const std::string& view) {
  return view == "PA" || view == "AP" || view == "AP Supine" || view == "AP semi erect";
}

}  // namespace

SourceResult read_cohen(const CohenOptions& o, bool skip_bad) {
  if (o.root.empty()) throw UsageError("data.cohen.enabled is true but data.cohen.root is empty");
  const fs::path root(o.root);
  const CsvTable t = read_csv(root / "metadata.csv");
  t.require_columns({"patientid", "finding", "view", "modality", "filename"});
  const auto folder_col = t.find_column("folder");
  SourceResult r;
  r.name = "cohen";
  r.input_rows = static_cast<std::int64_t>(t.size());
  for (const char* f : {"empty_fields", "ct", "view", "finding"}) r.count(f, 0);
  for (std::size_t i = 0; i < t.size(); ++i) {
    const std::string& finding = t.at(i, "finding");
    const std::string& view = t.at(i, "view");
    const std::string& modality = t.at(i, "modality");
    const std::string& filename = t.at(i, "filename");
    if (finding.empty() || view.empty() || modality.empty() || filename.empty()) {
      r.count("empty_fields");
      continue;
    }
    if (modality == "CT") {
      r.count("ct");
      continue;
    }
    if (o.view == "frontal" && !is_frontal(view)) {
      r.count("view");
      continue;
    }
    const Mapped m = map_finding(finding, o);
    if (m.label.empty() || std::find(o.labels.begin(), o.labels.end(), m.label) == o.labels.end()) {
      r.count("finding");
      continue;
    }
    const std::string& patient = t.at(i, "patientid");
    const std::string folder =
        folder_col && !t.row(i)[*folder_col].empty() ? t.row(i)[*folder_col] : "images";
    const fs::path file = root / folder / filename;
    if (patient.empty()) {
      const std::string reason = "column patientid: empty (expected a patient id)";
      if (!skip_bad) throw Error(fmt::format("{}: {}", t.where(i), reason));
      r.rejected.push_back({r.name, t.where(i), file.string(), reason});
      continue;
    }
    Candidate c;
    c.row.id = "cohen-" + safe_id(fs::path(filename).stem().string());
    c.row.source = r.name;
    c.row.patient_id = "cohen:" + patient;
    c.row.label = m.label;
    c.row.subtype = m.subtype;
    c.row.view = view;
    c.row.original_path = file.string();
    c.file = file;
    c.where = t.where(i);
    r.candidates.push_back(std::move(c));
  }
  return r;
}

}  // namespace cxrsynth::data
