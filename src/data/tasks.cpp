#include "data/tasks.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "core/error.h"

namespace cxrsynth::data {

const Task& find_task(std::string_view name) {
  for (const Task& t : kTasks) {
    if (t.name == name) return t;
  }
  throw UsageError(
      fmt::format("unknown task '{}'; valid tasks: {}", name, fmt::join(task_names(), ", ")));
}

std::vector<std::string> task_names() {
  std::vector<std::string> names;
  for (const Task& t : kTasks) names.emplace_back(t.name);
  return names;
}

bool is_label(std::string_view label) {
  return std::find(kLabels.begin(), kLabels.end(), label) != kLabels.end();
}

bool is_split(std::string_view split) {
  return std::find(kSplits.begin(), kSplits.end(), split) != kSplits.end();
}

}  // namespace cxrsynth::data
