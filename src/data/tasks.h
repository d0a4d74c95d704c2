// The paper's two binary tasks as data (sec. 3-4): domain A is the majority, non-COVID class,
// domain B is COVID-19. A classifier's negatives are A, its positives B (skew, eq. 6, is
// negatives / positives). Labels and splits used across the manifest are listed here too.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace cxrsynth::data {

// Manifest labels, in the order they are reported.
inline constexpr std::array<std::string_view, 3> kLabels = {"normal", "pneumonia", "covid"};
// Manifest splits, in the order they are reported.
inline constexpr std::array<std::string_view, 3> kSplits = {"train", "val", "test"};

struct Task {
  std::string_view name;
  std::string_view label_a;  // domain A (negatives): Normal or Pneumonia
  std::string_view label_b;  // domain B (positives): COVID-19
};

// Source: paper sec. 3 (two CycleGANs, n2c and p2c) and Tables 1-2.
inline constexpr std::array<Task, 2> kTasks = {{
    {"normal-vs-covid", "normal", "covid"},
    {"pneumonia-vs-covid", "pneumonia", "covid"},
}};

// The task called `name`; throws UsageError listing the valid names otherwise.
const Task& find_task(std::string_view name);
std::vector<std::string> task_names();

bool is_label(std::string_view label);
bool is_split(std::string_view split);

}  // namespace cxrsynth::data
