#include "data/summary.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "data/tasks.h"

namespace cxrsynth::data {
namespace {

template <class List>
int index_of(const List& list, const std::string& v) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (list[i] == v) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

PrepareSummary summarise(const PrepareOptions& o, std::uint64_t seed,
                         const std::vector<SourceSummary>& sources, const SplitReport& split,
                         const std::vector<GanSubsetCount>& gan,
                         const std::vector<ManifestRow>& rows) {
  PrepareSummary s;
  s.seed = seed;
  s.image_size = o.image_size;
  s.split_mode = o.split;
  s.sources = sources;
  s.split = split;
  for (const auto& src : sources) {
    std::int64_t filtered = 0;
    for (const auto& [name, n] : src.filtered) filtered += n;
    CXRSYNTH_CHECK(src.kept + filtered + src.rejected == src.input_rows,
                   "source {}: {} input rows but {} kept + {} filtered + {} rejected", src.name,
                   src.input_rows, src.kept, filtered, src.rejected);
  }
  std::set<std::string> patients[3];
  for (const auto& r : rows) {
    const int sp = index_of(kSplits, r.split), lb = index_of(kLabels, r.label);
    ++s.counts[sp][lb];
    patients[sp].insert(r.patient_id);
  }
  for (int i = 0; i < 3; ++i) s.patients[i] = static_cast<std::int64_t>(patients[i].size());
  for (const Task& t : kTasks) {
    TaskSummary ts;
    ts.task = t.name;
    ts.label_a = t.label_a;
    ts.label_b = t.label_b;
    const int a = index_of(kLabels, ts.label_a), b = index_of(kLabels, ts.label_b);
    for (int sp = 0; sp < 3; ++sp) {
      ts.negatives[sp] = s.counts[sp][a];
      ts.positives[sp] = s.counts[sp][b];
    }
    // Eq. 6: skew = negatives / positives in the training set.
    ts.skew = ts.positives[0] > 0
                  ? static_cast<double>(ts.negatives[0]) / static_cast<double>(ts.positives[0])
                  : 0.0;
    for (const auto& g : gan) {
      if (g.task != ts.task) continue;
      (g.label == ts.label_a ? ts.gan_a : ts.gan_b) = g.chosen;
    }
    s.tasks.push_back(ts);
  }
  return s;
}

std::string summary_json(const PrepareSummary& s) {
  using nlohmann::ordered_json;
  ordered_json j;
  j["seed"] = s.seed;
  j["image_size"] = s.image_size;
  j["split_mode"] = s.split_mode;
  ordered_json sources = ordered_json::object();
  ordered_json total = {{"input_rows", 0}, {"kept", 0}, {"filtered", 0}, {"rejected", 0}};
  for (const auto& src : s.sources) {
    ordered_json f = ordered_json::object();
    std::int64_t filtered = 0;
    for (const auto& [name, n] : src.filtered) {
      f[name] = n;
      filtered += n;
    }
    sources[src.name] = {{"input_rows", src.input_rows},
                         {"kept", src.kept},
                         {"filtered", f},
                         {"rejected", src.rejected}};
    if (!src.missing_examples.empty()) sources[src.name]["missing_examples"] = src.missing_examples;
    total["input_rows"] = total["input_rows"].get<std::int64_t>() + src.input_rows;
    total["kept"] = total["kept"].get<std::int64_t>() + src.kept;
    total["filtered"] = total["filtered"].get<std::int64_t>() + filtered;
    total["rejected"] = total["rejected"].get<std::int64_t>() + src.rejected;
  }
  j["sources"] = sources;
  j["total"] = total;
  const auto& d = s.split.duplicates;
  j["duplicates"] = {{"clusters", d.clusters},
                     {"rows", d.rows},
                     {"cross_source", d.cross_source},
                     {"cross_patient", d.cross_patient},
                     {"examples", d.examples}};
  if (s.split_mode == "paper") {
    j["paper_moved_rows"] = s.split.paper_moved_rows;
    j["paper_moved_patients"] = s.split.paper_moved_patients;
  }
  ordered_json splits = ordered_json::object();
  for (int sp = 0; sp < 3; ++sp) {
    ordered_json c = ordered_json::object();
    for (int lb = 0; lb < 3; ++lb) c[std::string(kLabels[lb])] = s.counts[sp][lb];
    c["patients"] = s.patients[sp];
    splits[std::string(kSplits[sp])] = c;
  }
  j["splits"] = splits;
  ordered_json tasks = ordered_json::object();
  for (const auto& t : s.tasks) {
    ordered_json tj;
    tj["negative_label"] = t.label_a;
    tj["positive_label"] = t.label_b;
    for (int sp = 0; sp < 3; ++sp) {
      tj[std::string(kSplits[sp])] = {{"negatives", t.negatives[sp]},
                                      {"positives", t.positives[sp]}};
    }
    tj["skew_train"] = t.positives[0] > 0 ? ordered_json(t.skew) : ordered_json(nullptr);
    tj["gan_subset"] = {{t.label_a, t.gan_a}, {t.label_b, t.gan_b}};
    tasks[t.task] = tj;
  }
  j["tasks"] = tasks;
  return j.dump(2) + "\n";
}

std::string summary_table(const PrepareSummary& s) {
  std::string out = "\nInput rows per source (kept / filtered by / rejected):\n";
  for (const auto& src : s.sources) {
    std::string f;
    for (const auto& [name, n] : src.filtered) f += fmt::format(" {} {},", name, n);
    if (!f.empty()) f.pop_back();
    out += fmt::format("  {:<10} {:>7} rows: kept {}, rejected {}; filtered:{}\n", src.name,
                       src.input_rows, src.kept, src.rejected, f.empty() ? " none" : f);
  }
  out += fmt::format("\nImages per split (patients), split mode {}:\n", s.split_mode);
  out += fmt::format("  {:<6} {:>9} {:>9} {:>9} {:>9}\n", "split", "normal", "pneumonia", "covid",
                     "patients");
  for (int sp = 0; sp < 3; ++sp) {
    out += fmt::format("  {:<6} {:>9} {:>9} {:>9} {:>9}\n", kSplits[sp], s.counts[sp][0],
                       s.counts[sp][1], s.counts[sp][2], s.patients[sp]);
  }
  out += "\nTasks (negatives/positives per split; skew = negatives/positives in train, eq. 6):\n";
  out += fmt::format("  {:<20} {:>13} {:>13} {:>13} {:>8} {:>11}\n", "task", "train", "val", "test",
                     "skew", "gan subset");
  for (const auto& t : s.tasks) {
    auto cell = [&](int sp) { return fmt::format("{}/{}", t.negatives[sp], t.positives[sp]); };
    out += fmt::format("  {:<20} {:>13} {:>13} {:>13} {:>8} {:>11}\n", t.task, cell(0), cell(1),
                       cell(2), t.positives[0] > 0 ? fmt::format("{:.2f}", t.skew) : "n/a",
                       fmt::format("{}+{}", t.gan_a, t.gan_b));
  }
  if (s.split.duplicates.clusters > 0) {
    out += fmt::format(
        "\nDuplicates: {} group(s), {} rows ({} across sources), each kept in one "
        "split\n",
        s.split.duplicates.clusters, s.split.duplicates.rows, s.split.duplicates.cross_source);
  }
  return out;
}

}  // namespace cxrsynth::data
