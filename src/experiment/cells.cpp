// One cell of the experiment grid (experiment_internal.h): its training set, whether what the
// run directory holds for it is still valid, training, evaluation and its metrics.
//
// Staleness: the classifier folder records the sha256 of its training and validation images
// (ids, labels, contents) in training_data.sha256, the evaluation folder the inputs of its
// evaluation in inputs.sha256. A finished cell whose training images changed (e.g. a synthetic
// set re-made by a retrained CycleGAN: same ids, other pixels) is removed and retrained; an
// evaluation whose inputs changed is redone. The trainer's own fingerprint (options, ids,
// labels, seed) cannot see new pixels under old ids.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "core/sha256.h"
#include "eval/classifier/evaluate.h"
#include "experiment/experiment_internal.h"
#include "train/classifier/classifier_trainer.h"

namespace cxrsynth::experiment::detail {
namespace {

namespace fs = std::filesystem;
using train::ClassifierSample;

const double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kDataMarker = "training_data.sha256";
constexpr const char* kEvalMarker = "inputs.sha256";

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

// The content hash of a sample ("x~rep2", an oversampled copy, has the hash of "x").
const std::string& content_of(const ClassifierSample& s,
                              const std::map<std::string, std::string>& content_sha) {
  const auto rep = s.id.rfind("~rep");
  const auto id = rep == std::string::npos ? s.id : s.id.substr(0, rep);
  const auto it = content_sha.find(id);
  if (it == content_sha.end()) {
    throw Error(fmt::format(
        "experiment: no content hash for training image {} (not in the data or synthetic "
        "manifests)",
        s.id));
  }
  return it->second;
}

std::string read_marker(const fs::path& file) {
  if (!fs::exists(file)) return "";
  auto text = read_file(file);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

void remove_dir(const fs::path& dir) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) throw Error(fmt::format("cannot remove the stale {}: {}", dir.string(), ec.message()));
}

// Removes the classifier folder (and its evaluation) when its recorded training data differ
// from `data_sha`; writes the record for a folder about to be trained.
void check_cell_data(const fs::path& out_dir, const fs::path& eval_dir, const std::string& name,
                     const std::string& data_sha, bool has_synthetic) {
  const auto marker = out_dir / kDataMarker;
  const bool started = fs::exists(out_dir / "checkpoint.state") || fs::exists(out_dir / "model.pt");
  if (started) {
    const auto recorded = read_marker(marker);
    std::string why;
    if (recorded.empty() && has_synthetic) {
      why = fmt::format(
          "{} holds no record of its training images ({}), so it may have been trained on an "
          "older synthetic set",
          out_dir.string(), kDataMarker);
    } else if (!recorded.empty() && recorded != data_sha) {
      why = fmt::format("its training images changed (sha256 {} then, {} now)",
                        recorded.substr(0, 12), data_sha.substr(0, 12));
    }
    if (!why.empty()) {
      log_warn("experiment: {}: retraining: {}", name, why);
      remove_dir(out_dir);
      remove_dir(eval_dir);
    }
  }
  write_file_atomic(marker, data_sha + "\n");
}

std::string eval_inputs_sha256(const std::string& data_sha, const eval::EvaluateOptions& e,
                               const std::vector<ClassifierSample>& extras,
                               const std::map<std::string, std::string>& content_sha) {
  Sha256 h;
  h.update(fmt::format("data={};threshold={};draws={};level={};target_spec={};features={};",
                       data_sha, e.threshold, e.bootstrap_draws, e.level, e.target_specificity,
                       e.features));
  for (const auto& s : extras) h.update(s.id + ":" + content_of(s, content_sha) + ";");
  return h.hex_digest();
}

}  // namespace

std::string training_data_sha256(const std::vector<ClassifierSample>& train_set,
                                 const std::vector<ClassifierSample>& validation,
                                 const std::map<std::string, std::string>& content_sha) {
  Sha256 h;
  for (const auto* set : {&train_set, &validation}) {
    h.update("|");
    for (const auto& s : *set)
      h.update(fmt::format("{}:{}:{};", s.id, s.label, content_of(s, content_sha)));
  }
  return h.hex_digest();
}

CellResult run_cell(const PlannedCell& g, std::size_t index, std::size_t total, const Config& cfg,
                    const RunDir& run_dir, GridInputs& in) {
  if (!in.data_by_task.count(g.task)) {
    in.data_by_task[g.task] = train::classifier_data_from_manifest(run_dir, g.task);
  }
  const auto& data = in.data_by_task.at(g.task);
  train::ClassifierOptions co = cfg.classifier;
  co.model.arch = g.arch;
  std::vector<ClassifierSample> train_set;
  std::size_t n_synth = 0;
  if (g.config == "real" || g.config == "real-weighted") {
    train_set = data.train;
    if (g.config == "real-weighted") co.class_weights = "balanced";
  } else if (g.config == "real-oversampled") {
    train_set = oversampled(data.train, in.synthetic.at(g.task).size());
  } else if (g.config == "synthetic-only") {
    train_set = negatives_of(data.train);
    train::append_samples(train_set, in.synthetic.at(g.task));
    n_synth = in.synthetic.at(g.task).size();
  } else {  // real + own (+ other)
    train_set = data.train;
    for (const auto& s : needed_synthetic(g.config, g.task)) {
      train::append_samples(train_set, in.synthetic.at(s));
      n_synth += in.synthetic.at(s).size();
    }
  }
  const auto& validation = co.validation_split == "test" ? data.test : data.val;
  const std::uint64_t seed = derive_seed(static_cast<std::uint64_t>(cfg.run.seed),
                                         fmt::format("experiment/seed/{}", g.seed));
  const auto counts = train::count_classes(train_set);

  CellResult cell;
  cell.task = g.task;
  cell.config = g.config;
  cell.arch = g.arch;
  cell.model_label = model_label(co.model);
  cell.seed = g.seed;
  cell.cell_dir = g.cell_dir;
  cell.train_negatives = counts.negatives;
  cell.train_positives = counts.positives;
  cell.train_synthetic = static_cast<std::int64_t>(n_synth);
  cell.skew = counts.skew();
  cell.validated_on_test = co.validation_split == "test";
  log_info(
      "experiment: cell {}/{}: {} / {} / {} / seed {}: {} negatives + {} positives ({} "
      "synthetic), skew {}",
      index, total, g.task, g.config, cell.model_label, g.seed, counts.negatives, counts.positives,
      n_synth, fmt_skew(cell.skew));

  train::ClassifierTrainJob job;
  job.name = fmt::format("classifier/{}/{}/{}", g.task, g.cell_dir, g.arch);
  job.metadata = {{"task", g.task},
                  {"train_config", g.config},
                  {"experiment_seed", std::to_string(g.seed)},
                  {"skew", fmt_skew(cell.skew)}};
  const auto out_dir = train::classifier_output_dir(run_dir, g.task, g.cell_dir, g.arch);
  const auto eval_dir = eval::evaluation_output_dir(run_dir, g.task, g.cell_dir, g.arch);
  const auto data_sha = training_data_sha256(train_set, validation, in.content_sha);
  check_cell_data(out_dir, eval_dir, job.name, data_sha, n_synth > 0);
  const auto tr = train::train_classifier(co, train_set, validation, out_dir, seed, job);
  cell.trained_now = !tr.already_done;

  const auto metrics_file = eval_dir / "metrics.json";
  const auto& extras = cfg.evaluate.features ? in.feature_extras : std::vector<ClassifierSample>{};
  const auto eval_sha = eval_inputs_sha256(data_sha, cfg.evaluate, extras, in.content_sha);
  if (!tr.already_done || !fs::exists(metrics_file) ||
      read_marker(eval_dir / kEvalMarker) != eval_sha) {
    eval::run_evaluate(cfg.evaluate, g.task, g.cell_dir, g.arch, seed, cfg.run.threads, run_dir,
                       extras);
    write_file_atomic(eval_dir / kEvalMarker, eval_sha + "\n");
  } else {
    log_info("experiment: reusing {}", metrics_file.string());
  }
  read_metrics_json(metrics_file, cell);
  return cell;
}

}  // namespace cxrsynth::experiment::detail
