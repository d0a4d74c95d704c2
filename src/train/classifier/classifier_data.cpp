#include "train/classifier/classifier_data.h"

#include <limits>
#include <set>

#include "core/error.h"
#include "data/manifest.h"
#include "data/tasks.h"

namespace cxrsynth::train {

double ClassCounts::skew() const {
  return positives == 0 ? std::numeric_limits<double>::infinity()
                        : static_cast<double>(negatives) / static_cast<double>(positives);
}

ClassCounts count_classes(const std::vector<ClassifierSample>& samples) {
  ClassCounts c;
  for (const auto& s : samples) (s.label == 1 ? c.positives : c.negatives) += 1;
  return c;
}

ClassifierData classifier_data_from_manifest(const RunDir& run_dir, const std::string& task_name) {
  const auto& task = data::find_task(task_name);
  if (!fs::exists(run_dir.manifest())) {
    throw Error(fmt::format("{} not found: run `cxrsynth prepare --run-dir {}` first",
                            run_dir.manifest().string(), run_dir.root().string()));
  }
  const auto rows = data::read_manifest(run_dir.manifest());
  ClassifierData d;
  d.task = task_name;
  for (const auto& row : rows) {
    int label;
    if (row.label == task.label_a) {
      label = 0;
    } else if (row.label == task.label_b) {
      label = 1;
    } else {
      continue;
    }
    ClassifierSample s{row.id, row.patient_id, data::image_path(run_dir.data_dir(), row), label,
                       "real"};
    if (row.split == "train") {
      d.train.push_back(std::move(s));
    } else if (row.split == "val") {
      d.val.push_back(std::move(s));
    } else {
      d.test.push_back(std::move(s));
    }
  }
  return d;
}

void append_samples(std::vector<ClassifierSample>& into,
                    const std::vector<ClassifierSample>& extra) {
  std::set<std::string> ids;
  for (const auto& s : into) ids.insert(s.id);
  for (const auto& s : extra) {
    if (!ids.insert(s.id).second) {
      throw Error(
          fmt::format("sample id '{}' ({}) is already in the training set", s.id, s.path.string()));
    }
    into.push_back(s);
  }
}

void require_both_classes(const std::vector<ClassifierSample>& samples, const std::string& what) {
  const auto c = count_classes(samples);
  if (c.negatives == 0 || c.positives == 0) {
    throw Error(fmt::format("{} has {} negative and {} positive images; expected both classes",
                            what, c.negatives, c.positives));
  }
}

}  // namespace cxrsynth::train
