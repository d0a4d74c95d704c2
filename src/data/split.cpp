#include "data/split.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "data/tasks.h"

namespace cxrsynth::data {
namespace {

struct UnionFind {
  std::vector<std::size_t> parent;
  explicit UnionFind(std::size_t n) : parent(n) { std::iota(parent.begin(), parent.end(), 0); }
  std::size_t find(std::size_t x) {
    while (parent[x] != x) x = parent[x] = parent[parent[x]];
    return x;
  }
  void unite(std::size_t a, std::size_t b) {
    a = find(a);
    b = find(b);
    if (a != b) parent[std::max(a, b)] = std::min(a, b);  // root = smallest row index
  }
};

// Joins rows sharing a key; returns the rows of each key with 2+ rows.
void join_by(const std::vector<std::string>& keys, UnionFind& uf) {
  std::unordered_map<std::string, std::size_t> first;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].empty()) continue;
    auto [it, inserted] = first.emplace(keys[i], i);
    if (!inserted) uf.unite(it->second, i);
  }
}

// Joins rows whose thumbnails are nearly equal (mean |diff| <= 1.5 grey levels, max <= 12).
// Rows are bucketed by (mean, std) of the thumbnail in steps of 4 and compared with their own
// and the neighbouring buckets only, so the work stays near-linear.
void join_near_thumbs(const std::vector<std::string>& thumbs, UnionFind& uf) {
  std::map<std::pair<int, int>, std::vector<std::size_t>> buckets;
  std::vector<std::pair<int, int>> key(thumbs.size());
  for (std::size_t i = 0; i < thumbs.size(); ++i) {
    if (thumbs[i].size() != 256) continue;
    double sum = 0, sq = 0;
    for (unsigned char c : thumbs[i]) {
      sum += c;
      sq += static_cast<double>(c) * c;
    }
    const double mean = sum / 256, sd = std::sqrt(std::max(0.0, sq / 256 - mean * mean));
    key[i] = {static_cast<int>(mean / 4), static_cast<int>(sd / 4)};
    buckets[key[i]].push_back(i);
  }
  auto near = [&](std::size_t a, std::size_t b) {
    int total = 0;
    for (std::size_t k = 0; k < 256; ++k) {
      const int d = std::abs(static_cast<unsigned char>(thumbs[a][k]) -
                             static_cast<unsigned char>(thumbs[b][k]));
      if (d > 12) return false;
      total += d;
    }
    return total <= 384;  // mean 1.5
  };
  for (std::size_t i = 0; i < thumbs.size(); ++i) {
    if (thumbs[i].size() != 256) continue;
    for (int dm = -1; dm <= 1; ++dm) {
      for (int ds = -1; ds <= 1; ++ds) {
        auto it = buckets.find({key[i].first + dm, key[i].second + ds});
        if (it == buckets.end()) continue;
        for (std::size_t j : it->second) {
          if (j > i && uf.find(i) != uf.find(j) && near(i, j)) uf.unite(i, j);
        }
      }
    }
  }
}

DuplicateReport find_duplicates(const std::vector<ManifestRow>& rows,
                                const std::vector<std::string>& thumbs) {
  UnionFind pic(rows.size());
  std::vector<std::string> shas;
  for (const auto& r : rows) shas.push_back(r.sha256);
  join_by(shas, pic);
  join_near_thumbs(thumbs, pic);
  std::map<std::size_t, std::vector<std::size_t>> clusters;
  for (std::size_t i = 0; i < rows.size(); ++i) clusters[pic.find(i)].push_back(i);
  DuplicateReport d;
  for (const auto& [root, members] : clusters) {
    if (members.size() < 2) continue;
    ++d.clusters;
    d.rows += static_cast<std::int64_t>(members.size());
    std::set<std::string> sources, patients;
    for (auto i : members) {
      sources.insert(rows[i].source);
      patients.insert(rows[i].patient_id);
    }
    if (sources.size() > 1) ++d.cross_source;
    if (patients.size() > 1) ++d.cross_patient;
    if (d.examples.size() < 10) {
      std::vector<std::string> ids;
      for (auto i : members) ids.push_back(rows[i].id + " (" + rows[i].patient_id + ")");
      d.examples.push_back(fmt::format("{}", fmt::join(ids, " = ")));
    }
  }
  return d;
}

int label_rank(const std::string& label) {  // rarest first: covid, pneumonia, normal
  return label == "covid" ? 0 : (label == "pneumonia" ? 1 : 2);
}

void split_grouped(std::vector<ManifestRow>& rows, const std::vector<std::size_t>& group_of,
                   double test_fraction, double val_fraction, std::uint64_t seed) {
  std::map<std::size_t, std::vector<std::size_t>> groups;  // by root (smallest row index)
  for (std::size_t i = 0; i < rows.size(); ++i) groups[group_of[i]].push_back(i);
  std::map<std::string, std::vector<const std::vector<std::size_t>*>> strata;
  for (const auto& [root, members] : groups) {
    std::string label = rows[members.front()].label;
    for (auto i : members) {
      if (label_rank(rows[i].label) < label_rank(label)) label = rows[i].label;
    }
    strata[label].push_back(&members);
  }
  for (auto& stratum : strata) {
    // Named, not a structured binding: the lambda below captures `list` (C++20 for bindings;
    // clang 14 refuses it).
    const std::string& label = stratum.first;
    auto& list = stratum.second;
    Rng rng(derive_seed(seed, "data/split/" + label));
    for (std::size_t i = list.size(); i > 1; --i) std::swap(list[i - 1], list[rng.below(i)]);
    std::size_t total = 0;
    for (const auto* g : list) total += g->size();
    // Fill a split towards its target image count; a group goes in while the split stays
    // within half a group of the target, so large patients do not overshoot it.
    auto fill = [&](const std::string& split, double target, std::size_t& placed) {
      for (const auto* g : list) {
        if (rows[g->front()].split != "train") continue;
        if (static_cast<double>(placed) + 0.5 * static_cast<double>(g->size()) <= target) {
          for (auto i : *g) rows[i].split = split;
          placed += g->size();
        }
      }
    };
    for (const auto* g : list) {
      for (auto i : *g) rows[i].split = "train";
    }
    std::size_t n_test = 0, n_val = 0;
    fill("test", std::round(test_fraction * static_cast<double>(total)), n_test);
    fill("val", std::round(val_fraction * static_cast<double>(total - n_test)), n_val);
  }
}

void split_paper(std::vector<ManifestRow>& rows, const std::vector<std::size_t>& group_of,
                 double test_fraction, double val_fraction, SplitReport& report) {
  std::map<std::string, std::vector<std::size_t>> by_label;
  for (std::size_t i = 0; i < rows.size(); ++i) by_label[rows[i].label].push_back(i);
  for (const auto& [label, idx] : by_label) {
    const std::size_t n = idx.size();
    const auto n_train =
        static_cast<std::size_t>(std::floor((1.0 - test_fraction) * static_cast<double>(n) + 1e-9));
    const auto n_val =
        static_cast<std::size_t>(std::round(val_fraction * static_cast<double>(n_train)));
    for (std::size_t k = 0; k < n; ++k) {
      rows[idx[k]].split = k < n_train - n_val ? "train" : (k < n_train ? "val" : "test");
    }
  }
  // A group keeps the split of its first row (the authors' slice leaked a Cohen patient).
  std::unordered_map<std::size_t, std::string> split_of_group;
  std::set<std::string> moved;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto [it, inserted] = split_of_group.emplace(group_of[i], rows[i].split);
    if (!inserted && rows[i].split != it->second) {
      rows[i].split = it->second;
      ++report.paper_moved_rows;
      moved.insert(rows[i].patient_id);
    }
  }
  for (const auto& p : moved) {
    if (report.paper_moved_patients.size() < 10) report.paper_moved_patients.push_back(p);
  }
}

}  // namespace

SplitReport assign_splits(std::vector<ManifestRow>& rows, const std::vector<std::string>& thumbs,
                          const std::string& mode, double test_fraction, double val_fraction,
                          std::uint64_t seed) {
  CXRSYNTH_CHECK(thumbs.size() == rows.size(), "assign_splits: {} thumbs for {} rows",
                 thumbs.size(), rows.size());
  SplitReport report;
  report.duplicates = find_duplicates(rows, thumbs);
  UnionFind uf(rows.size());
  std::vector<std::string> patients, shas;
  for (const auto& r : rows) {
    patients.push_back(r.patient_id);
    shas.push_back(r.sha256);
  }
  join_by(patients, uf);
  join_by(shas, uf);
  join_near_thumbs(thumbs, uf);
  std::vector<std::size_t> group_of(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) group_of[i] = uf.find(i);
  if (mode == "grouped") {
    split_grouped(rows, group_of, test_fraction, val_fraction, derive_seed(seed, "data/split"));
  } else if (mode == "paper") {
    split_paper(rows, group_of, test_fraction, val_fraction, report);
  } else {
    throw UsageError(fmt::format("data.split: unknown mode '{}'; expected grouped or paper", mode));
  }
  return report;
}

std::vector<GanSubsetCount> assign_gan_subsets(std::vector<ManifestRow>& rows, int per_domain,
                                               std::uint64_t seed) {
  std::vector<GanSubsetCount> counts;
  for (const Task& task : kTasks) {
    for (const std::string_view label : {task.label_a, task.label_b}) {
      std::vector<std::size_t> pool;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (rows[i].split == "train" && rows[i].label == label) pool.push_back(i);
      }
      Rng rng(derive_seed(seed, fmt::format("data/gan/{}/{}", task.name, label)));
      for (std::size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[rng.below(i)]);
      const std::size_t k = std::min(pool.size(), static_cast<std::size_t>(per_domain));
      for (std::size_t j = 0; j < k; ++j) {
        std::string& cell = rows[pool[j]].gan_tasks;
        cell += (cell.empty() ? "" : ";") + std::string(task.name);
      }
      counts.push_back({std::string(task.name), std::string(label),
                        static_cast<std::int64_t>(pool.size()), static_cast<std::int64_t>(k)});
    }
  }
  return counts;
}

}  // namespace cxrsynth::data
