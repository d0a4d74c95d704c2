#include "data/manifest.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "data/tasks.h"

namespace cxrsynth::data {

const std::vector<std::string>& manifest_columns() {
  static const std::vector<std::string> kColumns = {
      "id",   "source", "patient_id", "label",     "subtype", "view",     "split", "original_path",
      "path", "width",  "height",     "bit_depth", "sha256",  "gan_tasks"};
  return kColumns;
}

std::vector<std::string> split_gan_tasks(const std::string& cell) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(cell);
  while (std::getline(in, cur, ';')) {
    if (!cur.empty()) out.push_back(cur);
  }
  return out;
}

bool in_gan_task(const ManifestRow& row, const std::string& task) {
  for (const auto& t : split_gan_tasks(row.gan_tasks)) {
    if (t == task) return true;
  }
  return false;
}

namespace {

// Checks one row's values; `where` is "file:line" or "row N".
void validate_row(const ManifestRow& r, const std::string& where) {
  auto fail = [&](const std::string& col, const std::string& value, const std::string& expected) {
    throw Error(
        fmt::format("{}: column {}: bad value '{}'; expected {}", where, col, value, expected));
  };
  if (r.id.empty()) fail("id", r.id, "a non-empty id");
  if (r.patient_id.empty()) fail("patient_id", r.patient_id, "a non-empty patient id");
  if (!is_label(r.label)) fail("label", r.label, "one of normal, pneumonia, covid");
  if (!is_split(r.split)) fail("split", r.split, "one of train, val, test");
  if (r.path.empty()) fail("path", r.path, "a path relative to the data directory");
  if (r.width <= 0) fail("width", std::to_string(r.width), "a positive integer");
  if (r.height <= 0) fail("height", std::to_string(r.height), "a positive integer");
  if (r.bit_depth <= 0 || r.bit_depth > 32)
    fail("bit_depth", std::to_string(r.bit_depth), "an integer in 1..32");
  for (const auto& t : split_gan_tasks(r.gan_tasks)) {
    bool known = false;
    for (const Task& k : kTasks) known = known || k.name == t;
    if (!known)
      fail("gan_tasks", r.gan_tasks,
           "task names from: " + fmt::format("{}", fmt::join(task_names(), ", ")));
  }
}

void check_unique_ids(const std::vector<ManifestRow>& rows,
                      const std::function<std::string(std::size_t)>& where) {
  std::unordered_map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto [it, inserted] = seen.emplace(rows[i].id, i);
    if (!inserted) {
      throw Error(fmt::format("{}: duplicate id '{}' (first at {})", where(i), rows[i].id,
                              where(it->second)));
    }
  }
}

}  // namespace

void check_no_patient_overlap(const std::vector<ManifestRow>& rows, const std::string& where) {
  std::map<std::string, std::set<std::string>> splits_of;
  for (const auto& r : rows) splits_of[r.patient_id].insert(r.split);
  std::vector<std::string> bad;
  std::size_t count = 0;
  for (const auto& [pid, splits] : splits_of) {
    if (splits.size() > 1) {
      ++count;
      if (bad.size() < 10) bad.push_back(fmt::format("{} ({})", pid, fmt::join(splits, "+")));
    }
  }
  if (count > 0) {
    throw Error(fmt::format(
        "{}: {} patient id(s) appear in more than one split (patient leakage): {}{}; refusing "
        "to use it; re-run `cxrsynth prepare`",
        where, count, fmt::join(bad, ", "), count > bad.size() ? ", ..." : ""));
  }
}

std::vector<ManifestRow> read_manifest(const fs::path& path) {
  return with_context(fmt::format("while reading manifest {}", path.string()), [&] {
    const CsvTable t = read_csv(path);
    t.require_columns(manifest_columns());
    std::vector<ManifestRow> rows;
    rows.reserve(t.size());
    auto get_int = [&](std::size_t i, const char* col) {
      const std::int64_t v = t.get_int(i, col);
      if (v < std::numeric_limits<int>::min() || v > std::numeric_limits<int>::max()) {
        throw Error(
            fmt::format("{}: column {}: value {} is out of range (expected a 32-bit "
                        "integer)",
                        t.where(i), col, v));
      }
      return static_cast<int>(v);
    };
    for (std::size_t i = 0; i < t.size(); ++i) {
      ManifestRow r;
      r.id = t.at(i, "id");
      r.source = t.at(i, "source");
      r.patient_id = t.at(i, "patient_id");
      r.label = t.at(i, "label");
      r.subtype = t.at(i, "subtype");
      r.view = t.at(i, "view");
      r.split = t.at(i, "split");
      r.original_path = t.at(i, "original_path");
      r.path = t.at(i, "path");
      r.width = get_int(i, "width");
      r.height = get_int(i, "height");
      r.bit_depth = get_int(i, "bit_depth");
      r.sha256 = t.at(i, "sha256");
      r.gan_tasks = t.at(i, "gan_tasks");
      validate_row(r, t.where(i));
      rows.push_back(std::move(r));
    }
    check_unique_ids(rows, [&](std::size_t i) { return t.where(i); });
    check_no_patient_overlap(rows, path.string());
    return rows;
  });
}

void write_manifest(const fs::path& path, const std::vector<ManifestRow>& rows) {
  with_context(fmt::format("while writing manifest {}", path.string()), [&] {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      validate_row(rows[i], fmt::format("row {} (id {})", i + 1, rows[i].id));
    }
    check_unique_ids(rows, [&](std::size_t i) { return fmt::format("row {}", i + 1); });
    check_no_patient_overlap(rows, path.string());
    std::string text = csv_line(manifest_columns());
    for (const auto& r : rows) {
      text += csv_line({r.id, r.source, r.patient_id, r.label, r.subtype, r.view, r.split,
                        r.original_path, r.path, std::to_string(r.width), std::to_string(r.height),
                        std::to_string(r.bit_depth), r.sha256, r.gan_tasks});
    }
    write_file_atomic(path, text);
  });
}

}  // namespace cxrsynth::data
