// The experiment's tables (experiment_internal.h): per synthetic cell the verdict against the
// cheap alternatives, and the Markdown / CSV / JSON tables in the paper's Tables 1-2 layout.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/csv.h"
#include "experiment/experiment_internal.h"

namespace cxrsynth::experiment::detail {
namespace {

std::string fmt_pct(double v) {
  return std::isnan(v) ? "n/a" : fmt::format("{:.2f}", 100 * v);
}
std::string fmt_ci_pct(const MetricCI& m) {
  if (std::isnan(m.value)) return "n/a";
  if (std::isnan(m.lo)) return fmt::format("{:.1f}", 100 * m.value);
  return fmt::format("{:.1f} [{:.1f}, {:.1f}]", 100 * m.value, 100 * m.lo, 100 * m.hi);
}
std::string fmt_ci3(const MetricCI& m) {
  if (std::isnan(m.value)) return "n/a";
  if (std::isnan(m.lo)) return fmt::format("{:.3f}", m.value);
  return fmt::format("{:.3f} [{:.3f}, {:.3f}]", m.value, m.lo, m.hi);
}
std::string num(double v) {
  return std::isnan(v) ? "" : fmt::format("{:.6g}", v);
}
nlohmann::json jnum(double v) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

// "yes": the synthetic cell's interval lies above both alternatives' intervals;
// "higher, intervals overlap": point estimate above both, not separated; "no" otherwise.
std::string compare(const MetricCI& a, const std::vector<const MetricCI*>& others) {
  bool above_points = true, separated = true;
  for (const auto* o : others) {
    if (std::isnan(a.value) || std::isnan(o->value) || !(a.value > o->value)) above_points = false;
    if (std::isnan(a.lo) || std::isnan(o->hi) || !(a.lo > o->hi)) separated = false;
  }
  if (above_points && separated) return "yes";
  if (above_points) return "higher, intervals overlap";
  return "no";
}

std::string task_title(const std::string& task, int number) {
  return task == kNvc ? fmt::format("Table {}: Normal vs COVID-19", number)
                      : fmt::format("Table {}: Pneumonia vs COVID-19", number);
}

std::string row_label(const CellResult& c, bool many_seeds) {
  return many_seeds ? fmt::format("{} (seed {})", c.model_label, c.seed) : c.model_label;
}

}  // namespace

std::string fmt_skew(double s) {
  return std::isinf(s) ? "inf" : fmt::format("{:.2f}", s);
}

void add_verdicts(std::vector<CellResult>& cells) {
  for (auto& c : cells) {
    if (!is_synthetic_config(c.config)) continue;
    const CellResult* over = nullptr;
    const CellResult* weighted = nullptr;
    for (const auto& d : cells) {
      if (d.task != c.task || d.arch != c.arch || d.seed != c.seed) continue;
      if (d.config == "real-oversampled") over = &d;
      if (d.config == "real-weighted") weighted = &d;
    }
    if (over == nullptr || weighted == nullptr) {
      c.verdict = "not compared (real-oversampled and real-weighted not both in the grid)";
      continue;
    }
    c.verdict = fmt::format(
        "sensitivity: {}; balanced accuracy: {}",
        compare(c.sensitivity, {&over->sensitivity, &weighted->sensitivity}),
        compare(c.balanced_accuracy, {&over->balanced_accuracy, &weighted->balanced_accuracy}));
  }
}

std::string md_tables(const ExperimentOptions& o, const std::vector<CellResult>& cells) {
  const bool many_seeds = o.seeds.size() > 1;
  std::string md = "# Experiment tables (paper Tables 1-2 layout)\n\n";
  md +=
      "SEN % and FN (false negatives) on the fixed, real-only test set at threshold 0.5; skew "
      "(eq. 6) = negatives / positives of each configuration's ACTUAL training set. Intervals "
      "are patient-level bootstrap 95% intervals. The paper's \"DenseNet-102\" is defined "
      "nowhere and is not used here.\n\n";
  int number = 0;
  for (const auto& task : o.tasks) {
    ++number;
    std::vector<std::string> configs;
    for (const auto& c : experiment_config_names()) {
      if (std::find(o.configs.begin(), o.configs.end(), c) != o.configs.end() && applies(c, task))
        configs.push_back(c);
    }
    md += fmt::format("## {}\n\n| model |", task_title(task, number));
    for (const auto& c : configs) md += " " + config_label(c, task) + " |";
    md += "\n|---|";
    for (std::size_t i = 0; i < configs.size(); ++i) md += "---|";
    md += "\n";
    // Rows: model x seed, in option order.
    for (const auto& arch : o.models) {
      for (auto seed : o.seeds) {
        std::string label;
        std::string line;
        for (const auto& c : configs) {
          const CellResult* cell = nullptr;
          for (const auto& x : cells)
            if (x.task == task && x.config == c && x.arch == arch && x.seed == seed) cell = &x;
          if (cell == nullptr) {
            line += " - |";
            continue;
          }
          label = row_label(*cell, many_seeds);
          line += fmt::format(" {}, {} |", fmt_pct(cell->sensitivity.value), cell->fn);
        }
        md += "| " + label + " |" + line + "\n";
      }
    }
    md += "| skew |";
    for (const auto& c : configs) {
      std::string s = "-";
      for (const auto& x : cells)
        if (x.task == task && x.config == c) s = fmt_skew(x.skew);
      md += " " + s + " |";
    }
    md += "\n\n";

    md += fmt::format(
        "### {}: metrics with 95% intervals\n\n| model | configuration | train neg / pos "
        "(synthetic) | skew | SEN % | FN / COVID test | SPEC % | ROC-AUC | balanced acc. % |\n"
        "|---|---|---|---|---|---|---|---|---|\n",
        task_title(task, number));
    for (const auto& x : cells) {
      if (x.task != task) continue;
      md += fmt::format(
          "| {} | {}{} | {} / {} ({}) | {} | {} | {} / {} | {} | {} | {} |\n",
          row_label(x, many_seeds), config_label(x.config, task),
          x.validated_on_test ? " (validated on TEST)" : "", x.train_negatives, x.train_positives,
          x.train_synthetic, fmt_skew(x.skew), fmt_ci_pct(x.sensitivity), x.fn, x.test_positives,
          fmt_ci_pct(x.specificity), fmt_ci3(x.roc_auc), fmt_ci_pct(x.balanced_accuracy));
    }
    md += "\n";
    bool any = false;
    std::string verdicts;
    for (const auto& x : cells) {
      if (x.task != task || x.verdict.empty()) continue;
      any = true;
      verdicts += fmt::format("- {} / {}: {}\n", row_label(x, many_seeds),
                              config_label(x.config, task), x.verdict);
    }
    if (any) {
      md += fmt::format(
          "### {}: does the synthetic configuration beat both cheap alternatives "
          "(real-oversampled, real-weighted)?\n\n"
          "\"yes\" = its 95% interval lies above both alternatives' intervals; \"higher, "
          "intervals overlap\" = higher point estimate only; \"no\" = not higher than both.\n\n",
          task_title(task, number));
      md += verdicts + "\n";
    }
  }
  return md;
}

std::string csv_tables(const std::vector<CellResult>& cells) {
  std::string out = csv_line({"task",
                              "config",
                              "config_label",
                              "arch",
                              "model",
                              "seed",
                              "train_negatives",
                              "train_positives",
                              "train_synthetic",
                              "skew",
                              "test_positives",
                              "test_negatives",
                              "sensitivity",
                              "sensitivity_lo",
                              "sensitivity_hi",
                              "fn",
                              "specificity",
                              "specificity_lo",
                              "specificity_hi",
                              "roc_auc",
                              "roc_auc_lo",
                              "roc_auc_hi",
                              "balanced_accuracy",
                              "balanced_accuracy_lo",
                              "balanced_accuracy_hi",
                              "validated_on_test",
                              "verdict"});
  for (const auto& c : cells) {
    out += csv_line({c.task,
                     c.config,
                     config_label(c.config, c.task),
                     c.arch,
                     c.model_label,
                     std::to_string(c.seed),
                     std::to_string(c.train_negatives),
                     std::to_string(c.train_positives),
                     std::to_string(c.train_synthetic),
                     std::isinf(c.skew) ? "inf" : num(c.skew),
                     std::to_string(c.test_positives),
                     std::to_string(c.test_negatives),
                     num(c.sensitivity.value),
                     num(c.sensitivity.lo),
                     num(c.sensitivity.hi),
                     std::to_string(c.fn),
                     num(c.specificity.value),
                     num(c.specificity.lo),
                     num(c.specificity.hi),
                     num(c.roc_auc.value),
                     num(c.roc_auc.lo),
                     num(c.roc_auc.hi),
                     num(c.balanced_accuracy.value),
                     num(c.balanced_accuracy.lo),
                     num(c.balanced_accuracy.hi),
                     c.validated_on_test ? "1" : "0",
                     c.verdict});
  }
  return out;
}

std::string json_tables(const ExperimentOptions& o, const std::vector<CellResult>& cells) {
  nlohmann::json j;
  j["schema"] = "cxrsynth.experiment/1";
  j["tasks"] = o.tasks;
  j["configs"] = o.configs;
  j["models"] = o.models;
  j["seeds"] = o.seeds;
  j["cells"] = nlohmann::json::array();
  auto ci = [](const MetricCI& m) {
    return nlohmann::json{{"value", jnum(m.value)}, {"ci_lo", jnum(m.lo)}, {"ci_hi", jnum(m.hi)}};
  };
  for (const auto& c : cells) {
    nlohmann::json x;
    x["task"] = c.task;
    x["config"] = c.config;
    x["config_label"] = config_label(c.config, c.task);
    x["arch"] = c.arch;
    x["model"] = c.model_label;
    x["seed"] = c.seed;
    x["cell_dir"] = c.cell_dir;
    x["train_negatives"] = c.train_negatives;
    x["train_positives"] = c.train_positives;
    x["train_synthetic"] = c.train_synthetic;
    x["skew"] = std::isinf(c.skew) ? nlohmann::json("inf") : nlohmann::json(c.skew);
    x["test_positives"] = c.test_positives;
    x["test_negatives"] = c.test_negatives;
    x["fn"] = c.fn;
    x["sensitivity"] = ci(c.sensitivity);
    x["specificity"] = ci(c.specificity);
    x["roc_auc"] = ci(c.roc_auc);
    x["balanced_accuracy"] = ci(c.balanced_accuracy);
    x["validated_on_test"] = c.validated_on_test;
    if (!c.verdict.empty()) x["beats_cheap_alternatives"] = c.verdict;
    j["cells"].push_back(x);
  }
  return j.dump(2) + "\n";
}

}  // namespace cxrsynth::experiment::detail
