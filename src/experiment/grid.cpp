// What the experiment grid holds (experiment_internal.h): configurations per task, the cells,
// the synthetic sets they need, and the table labels of models and configurations.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/error.h"
#include "data/tasks.h"
#include "experiment/experiment_internal.h"
#include "models/classifiers/classifier_model_options.h"

namespace cxrsynth::experiment {
namespace detail {

std::string other_task(const std::string& task) {
  return task == kNvc ? kPvc : kNvc;
}

bool applies(const std::string& config, const std::string& task) {
  if (config == "real+gnc") return task == kNvc;
  if (config == "real+gpc") return task == kPvc;
  return true;
}

bool is_synthetic_config(const std::string& c) {
  return c == "real+gnc" || c == "real+gpc" || c == "real+gnc+gpc" || c == "synthetic-only";
}

std::vector<std::string> needed_synthetic(const std::string& config, const std::string& task) {
  if (config == "real+gnc" || config == "real+gpc" || config == "synthetic-only" ||
      config == "real-oversampled") {
    return {task};
  }
  if (config == "real+gnc+gpc") return {task, other_task(task)};
  return {};
}

void validate(const ExperimentOptions& o) {
  if (o.tasks.empty()) throw UsageError("experiment.tasks is empty: name at least one task");
  for (const auto& t : o.tasks) data::find_task(t);
  if (o.configs.empty()) throw UsageError("experiment.configs is empty");
  const auto& known = experiment_config_names();
  for (const auto& c : o.configs) {
    if (std::find(known.begin(), known.end(), c) == known.end()) {
      throw UsageError(fmt::format("experiment.configs: unknown configuration '{}'; known: {}", c,
                                   fmt::join(known, ", ")));
    }
  }
  if (o.models.empty()) throw UsageError("experiment.models is empty");
  const auto& archs = models::classifier_arch_names();
  for (const auto& m : o.models) {
    if (std::find(archs.begin(), archs.end(), m) == archs.end()) {
      throw UsageError(fmt::format("experiment.models: unknown model '{}'; known: {}", m,
                                   fmt::join(archs, ", ")));
    }
  }
  if (o.seeds.empty()) throw UsageError("experiment.seeds is empty");
  std::set<std::int64_t> seen;
  for (auto s : o.seeds) {
    if (s < 0 || !seen.insert(s).second) {
      throw UsageError(fmt::format("experiment.seeds: {} is negative or repeated", s));
    }
  }
}

std::vector<PlannedCell> plan_grid(const ExperimentOptions& o) {
  std::vector<PlannedCell> grid;
  for (const auto& t : o.tasks)
    for (const auto& c : experiment_config_names())
      if (std::find(o.configs.begin(), o.configs.end(), c) != o.configs.end() && applies(c, t))
        for (const auto& a : o.models)
          for (auto s : o.seeds)
            grid.push_back({t, c, a, s, o.seeds.size() > 1 ? fmt::format("{}/seed-{}", c, s) : c});
  return grid;
}

std::vector<std::string> synthetic_tasks_needed(const ExperimentOptions& o) {
  std::vector<std::string> out;
  for (const auto& t : o.tasks)
    for (const auto& c : o.configs)
      if (applies(c, t))
        for (const auto& s : needed_synthetic(c, t))
          if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace detail

std::string model_label(const models::ClassifierModelOptions& m) {
  static const std::map<std::string, std::string> names = {
      {"vgg16", "VGG-16"},
      {"resnet50", "ResNet-50"},
      {"densenet121", "DenseNet-121"},
      {"densenet161", "DenseNet-161"},
      {"densenet169", "DenseNet-169"},
      {"densenet201", "DenseNet-201"},
      {"densenet121-bgt", "DenseNet-121 + BGT"}};
  const auto it = names.find(m.arch);
  if (it != names.end()) return it->second;
  if (m.arch == "densenet" || m.arch == "densenet-bgt") {
    std::vector<std::string> blocks;
    for (auto b : m.densenet_block_config) blocks.push_back(std::to_string(b));
    return fmt::format("DenseNet (blocks {}, k {}, {} stem filters){}", fmt::join(blocks, "-"),
                       m.densenet_growth_rate, m.densenet_init_features,
                       m.arch == "densenet-bgt" ? " + BGT" : "");
  }
  return m.arch;
}

std::string config_label(const std::string& config, const std::string& task) {
  using detail::kNvc;
  if (config == "real") return "Real";
  if (config == "real+gnc") return "Real+G_NC";
  if (config == "real+gpc") return "Real+G_PC";
  if (config == "real+gnc+gpc") return task == kNvc ? "Real+G_NC+G_PC" : "Real+G_PC+G_NC";
  if (config == "synthetic-only") return task == kNvc ? "G_NC only" : "G_PC only";
  if (config == "real-oversampled") return "Real oversampled";
  if (config == "real-weighted") return "Real weighted";
  return config;
}

}  // namespace cxrsynth::experiment
