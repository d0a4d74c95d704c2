#include "experiment/experiment.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "data/tasks.h"
#include "eval/classifier/evaluate.h"
#include "synth/synthesize.h"
#include "train/classifier/classifier_trainer.h"
#include "train/cyclegan_trainer.h"

namespace cxrsynth::experiment {
namespace {

namespace fs = std::filesystem;
using train::ClassifierSample;

constexpr const char* kNvc = "normal-vs-covid";
constexpr const char* kPvc = "pneumonia-vs-covid";

const double kNaN = std::numeric_limits<double>::quiet_NaN();

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

// Synthetic sets (by generator task) a configuration of `task` needs.
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

double json_number(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : kNaN;
}

MetricCI read_metric(const nlohmann::json& metrics, const std::string& name, const fs::path& file) {
  if (!metrics.contains(name)) {
    throw Error(fmt::format("{}: at_threshold.metrics has no '{}'", file.string(), name));
  }
  const auto& m = metrics.at(name);
  return {json_number(m.at("value")), json_number(m.at("ci_lo")), json_number(m.at("ci_hi"))};
}

void read_metrics_json(const fs::path& file, CellResult& cell) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(file));
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", file.string(), e.what()));
  }
  const auto& m = j.at("at_threshold").at("metrics");
  cell.sensitivity = read_metric(m, "sensitivity", file);
  cell.specificity = read_metric(m, "specificity", file);
  cell.roc_auc = read_metric(m, "roc_auc", file);
  cell.balanced_accuracy = read_metric(m, "balanced_accuracy", file);
  cell.fn = static_cast<std::int64_t>(read_metric(m, "fn", file).value);
  cell.test_positives = j.value("n_positive", std::int64_t{0});
  cell.test_negatives = j.value("n_negative", std::int64_t{0});
}

// ---- preparing what the grid needs -----------------------------------------------------

void ensure_prepared(const Config& cfg, const RunDir& run_dir) {
  if (fs::exists(run_dir.manifest())) {
    log_info("experiment: reusing prepared data {}", run_dir.manifest().string());
    return;
  }
  log_info("experiment: [1/4] preparing data into {}", run_dir.data_dir().string());
  data::run_prepare(cfg.data, static_cast<std::uint64_t>(cfg.run.seed), run_dir, cfg.run.threads);
}

void ensure_synthetic(const Config& cfg, const std::string& task, const RunDir& run_dir) {
  const auto synth_manifest = run_dir.synthetic_dir(task) / "manifest.csv";
  if (fs::exists(synth_manifest)) {
    log_info("experiment: reusing synthetic set {}", synth_manifest.string());
    return;
  }
  const auto gan_dir = run_dir.gan_dir(task);
  if (fs::exists(gan_dir / "summary.json") && fs::exists(gan_dir / "generator_ab.pt")) {
    log_info("experiment: reusing trained CycleGAN {}", gan_dir.string());
  } else {
    const bool resume = fs::exists(gan_dir / "checkpoint.pt");
    log_info("experiment: [2/4] training the {} CycleGAN ({}) into {}", task,
             resume ? "resuming its checkpoint" : "from scratch", gan_dir.string());
    const auto r = train::run_train_gan(cfg.gan, task, static_cast<std::uint64_t>(cfg.run.seed),
                                        resume, run_dir);
    for (const auto& w : r.warnings) log_warn("{} CycleGAN: {}", task, w);
  }
  log_info("experiment: [3/4] synthesizing the {} set into {}", task == kNvc ? "G_NC" : "G_PC",
           run_dir.synthetic_dir(task).string());
  synth::run_synthesize(cfg.synth, task, run_dir);
  if (!fs::exists(synth_manifest)) {
    throw Error(fmt::format("synthesize did not write {}", synth_manifest.string()));
  }
}

// ---- training sets ------------------------------------------------------------------------

std::vector<ClassifierSample> negatives_of(const std::vector<ClassifierSample>& s) {
  std::vector<ClassifierSample> out;
  for (const auto& x : s)
    if (x.label == 0) out.push_back(x);
  return out;
}

// Real positives repeated (in order, cycling) until `extra` copies have been added.
std::vector<ClassifierSample> oversampled(const std::vector<ClassifierSample>& train,
                                          std::size_t extra) {
  std::vector<ClassifierSample> pos;
  for (const auto& x : train)
    if (x.label == 1) pos.push_back(x);
  CXRSYNTH_CHECK(!pos.empty(), "real-oversampled: the training set has no positive image");
  std::vector<ClassifierSample> out = train;
  for (std::size_t k = 0; k < extra; ++k) {
    auto copy = pos[k % pos.size()];
    copy.id = fmt::format("{}~rep{}", copy.id, k / pos.size() + 1);
    copy.origin = "real-oversampled";
    out.push_back(std::move(copy));
  }
  return out;
}

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
std::string fmt_skew(double s) {
  return std::isinf(s) ? "inf" : fmt::format("{:.2f}", s);
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

std::string task_title(const std::string& task, int number) {
  return task == kNvc ? fmt::format("Table {}: Normal vs COVID-19", number)
                      : fmt::format("Table {}: Pneumonia vs COVID-19", number);
}

std::string row_label(const CellResult& c, bool many_seeds) {
  return many_seeds ? fmt::format("{} (seed {})", c.model_label, c.seed) : c.model_label;
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

}  // namespace

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
  if (config == "real") return "Real";
  if (config == "real+gnc") return "Real+G_NC";
  if (config == "real+gpc") return "Real+G_PC";
  if (config == "real+gnc+gpc") return task == kNvc ? "Real+G_NC+G_PC" : "Real+G_PC+G_NC";
  if (config == "synthetic-only") return task == kNvc ? "G_NC only" : "G_PC only";
  if (config == "real-oversampled") return "Real oversampled";
  if (config == "real-weighted") return "Real weighted";
  return config;
}

std::vector<ClassifierSample> load_synthetic_positives(const RunDir& run_dir,
                                                       const std::string& task) {
  data::find_task(task);
  const auto dir = run_dir.synthetic_dir(task);
  const auto file = dir / "manifest.csv";
  if (!fs::exists(file)) {
    throw Error(
        fmt::format("{} not found: run `cxrsynth synthesize --run-dir {} --task {}` "
                    "(or `cxrsynth experiment`, which runs it)",
                    file.string(), run_dir.root().string(), task));
  }
  const auto table = read_csv(file);
  table.require_columns({"id", "source_id", "source_patient_id", "source_split", "path"});
  const auto rows = data::read_manifest(run_dir.manifest());
  std::map<std::string, const data::ManifestRow*> by_id;
  std::map<std::string, std::string> held_out_patients;  // patient -> split (val/test)
  for (const auto& r : rows) {
    by_id[r.id] = &r;
    if (r.split != "train") held_out_patients[r.patient_id] = r.split;
  }
  std::vector<ClassifierSample> out;
  out.reserve(table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& source_id = table.at(i, "source_id");
    const auto& patient = table.at(i, "source_patient_id");
    const auto& split = table.at(i, "source_split");
    const auto refuse = [&](const std::string& why) {
      throw Error(fmt::format(
          "{}: synthetic image {} was made from source {} (patient {}): {}; synthetic training "
          "images must only be made from TRAIN-split sources (a val/test patient would leak "
          "into training). Re-run synthesize on this run's data",
          table.where(i), table.at(i, "id"), source_id, patient, why));
    };
    if (split != "train") refuse(fmt::format("its source_split is '{}'", split));
    const auto it = by_id.find(source_id);
    if (it == by_id.end())
      refuse(fmt::format("no row of {} has that id", run_dir.manifest().string()));
    if (it->second->split != "train") {
      refuse(fmt::format("{} puts it in the {} split", run_dir.manifest().string(),
                         it->second->split));
    }
    const auto& real_patient = it->second->patient_id;
    for (const auto* p : {&patient, &real_patient}) {
      const auto h = held_out_patients.find(*p);
      if (h != held_out_patients.end()) {
        refuse(fmt::format("patient {} has images in the {} split", *p, h->second));
      }
    }
    ClassifierSample s;
    s.id = table.at(i, "id");
    s.patient_id = "synthetic:" + real_patient;
    s.path = dir / table.at(i, "path");
    s.label = 1;
    s.origin = "synthetic:" + task;
    out.push_back(std::move(s));
  }
  if (out.empty()) throw Error(fmt::format("{}: no synthetic image", file.string()));
  return out;
}

ExperimentResult run_experiment(const ExperimentOptions& o, const Config& cfg,
                                const RunDir& run_dir) {
  validate(o);
  run_dir.create();
  ensure_prepared(cfg, run_dir);

  // Which synthetic sets the grid needs, then make the missing ones.
  std::vector<std::string> synth_tasks;
  for (const auto& t : o.tasks)
    for (const auto& c : o.configs)
      if (applies(c, t))
        for (const auto& s : needed_synthetic(c, t))
          if (std::find(synth_tasks.begin(), synth_tasks.end(), s) == synth_tasks.end())
            synth_tasks.push_back(s);
  std::sort(synth_tasks.begin(), synth_tasks.end());
  std::map<std::string, std::vector<ClassifierSample>> synthetic;
  for (const auto& t : synth_tasks) {
    ensure_synthetic(cfg, t, run_dir);
    synthetic[t] = load_synthetic_positives(run_dir, t);
    log_info(
        "experiment: {} synthetic positives from the {} generator (train-split sources "
        "checked)",
        synthetic[t].size(), t);
  }

  struct Cell {
    std::string task, config, arch;
    std::int64_t seed;
  };
  std::vector<Cell> grid;
  for (const auto& t : o.tasks)
    for (const auto& c : experiment_config_names())
      if (std::find(o.configs.begin(), o.configs.end(), c) != o.configs.end() && applies(c, t))
        for (const auto& a : o.models)
          for (auto s : o.seeds) grid.push_back({t, c, a, s});

  log_info(
      "experiment: [4/4] {} classifier cells ({} tasks x configurations x {} models x {} "
      "seeds)",
      grid.size(), o.tasks.size(), o.models.size(), o.seeds.size());
  ExperimentResult result;
  std::map<std::string, train::ClassifierData> data_by_task;
  std::size_t index = 0;
  for (const auto& g : grid) {
    ++index;
    if (!data_by_task.count(g.task)) {
      data_by_task[g.task] = train::classifier_data_from_manifest(run_dir, g.task);
    }
    const auto& data = data_by_task.at(g.task);
    train::ClassifierOptions co = cfg.classifier;
    co.model.arch = g.arch;
    std::vector<ClassifierSample> train_set;
    std::size_t n_synth = 0;
    if (g.config == "real" || g.config == "real-weighted") {
      train_set = data.train;
      if (g.config == "real-weighted") co.class_weights = "balanced";
    } else if (g.config == "real-oversampled") {
      train_set = oversampled(data.train, synthetic.at(g.task).size());
    } else if (g.config == "synthetic-only") {
      train_set = negatives_of(data.train);
      train::append_samples(train_set, synthetic.at(g.task));
      n_synth = synthetic.at(g.task).size();
    } else {  // real + own (+ other)
      train_set = data.train;
      for (const auto& s : needed_synthetic(g.config, g.task)) {
        train::append_samples(train_set, synthetic.at(s));
        n_synth += synthetic.at(s).size();
      }
    }
    const auto& validation = co.validation_split == "test" ? data.test : data.val;
    const std::string cell_dir =
        o.seeds.size() > 1 ? fmt::format("{}/seed-{}", g.config, g.seed) : g.config;
    const std::uint64_t seed = derive_seed(static_cast<std::uint64_t>(cfg.run.seed),
                                           fmt::format("experiment/seed/{}", g.seed));
    const auto counts = train::count_classes(train_set);

    CellResult cell;
    cell.task = g.task;
    cell.config = g.config;
    cell.arch = g.arch;
    cell.model_label = model_label(co.model);
    cell.seed = g.seed;
    cell.cell_dir = cell_dir;
    cell.train_negatives = counts.negatives;
    cell.train_positives = counts.positives;
    cell.train_synthetic = static_cast<std::int64_t>(n_synth);
    cell.skew = counts.skew();
    cell.validated_on_test = co.validation_split == "test";
    log_info(
        "experiment: cell {}/{}: {} / {} / {} / seed {}: {} negatives + {} positives ({} "
        "synthetic), skew {}",
        index, grid.size(), g.task, g.config, cell.model_label, g.seed, counts.negatives,
        counts.positives, n_synth, fmt_skew(cell.skew));

    train::ClassifierTrainJob job;
    job.name = fmt::format("classifier/{}/{}/{}", g.task, cell_dir, g.arch);
    job.metadata = {{"task", g.task},
                    {"train_config", g.config},
                    {"experiment_seed", std::to_string(g.seed)},
                    {"skew", fmt_skew(cell.skew)}};
    const auto out_dir = train::classifier_output_dir(run_dir, g.task, cell_dir, g.arch);
    const auto tr = train::train_classifier(co, train_set, validation, out_dir, seed, job);
    cell.trained_now = !tr.already_done;
    const auto eval_dir = eval::evaluation_output_dir(run_dir, g.task, cell_dir, g.arch);
    const auto metrics_file = eval_dir / "metrics.json";
    if (!tr.already_done || !fs::exists(metrics_file)) {
      eval::run_evaluate(cfg.evaluate, g.task, cell_dir, g.arch, seed, cfg.run.threads, run_dir);
    } else {
      log_info("experiment: reusing {}", metrics_file.string());
    }
    read_metrics_json(metrics_file, cell);
    result.cells.push_back(std::move(cell));
  }
  add_verdicts(result.cells);

  const auto out = run_dir.root() / "experiment";
  result.tables_markdown = md_tables(o, result.cells);
  write_file_atomic(out / "tables.md", result.tables_markdown);
  write_file_atomic(out / "tables.csv", csv_tables(result.cells));
  write_file_atomic(out / "tables.json", json_tables(o, result.cells));
  if (o.print) std::cout << result.tables_markdown << std::flush;
  log_info("experiment: wrote {}/tables.md, tables.csv, tables.json", out.string());
  return result;
}

}  // namespace cxrsynth::experiment
