#include "eval/classifier/evaluate.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "data/tasks.h"
#include "eval/bootstrap.h"
#include "eval/classifier/classifier_inference.h"
#include "eval/metrics_io.h"
#include "models/classifiers/weights_io.h"
#include "train/classifier/classifier_trainer.h"

namespace cxrsynth::eval {
namespace {

std::vector<Prediction> to_predictions(const std::vector<train::ClassifierSample>& samples,
                                       const std::vector<double>& p) {
  std::vector<Prediction> out;
  out.reserve(samples.size());
  for (std::size_t i = 0; i < samples.size(); ++i) {
    out.push_back({samples[i].id, samples[i].patient_id, samples[i].label, p[i]});
  }
  return out;
}

// Rows of `features` (N x C) for `samples`, tagged with `split`.
std::string feature_rows(const std::vector<train::ClassifierSample>& samples,
                         const torch::Tensor& features, const std::string& split) {
  const auto f = features.to(torch::kFloat32).contiguous();
  const auto c = f.size(1);
  const float* data = f.data_ptr<float>();
  std::string text;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::vector<std::string> row = {samples[i].id, samples[i].patient_id,
                                    std::to_string(samples[i].label), split, samples[i].origin};
    for (std::int64_t k = 0; k < c; ++k) {
      row.push_back(fmt::format("{:.7g}", data[static_cast<std::int64_t>(i) * c + k]));
    }
    text += csv_line(row);
  }
  return text;
}

std::string features_header(const torch::Tensor& features) {
  std::vector<std::string> header = {"id", "patient_id", "label", "split", "origin"};
  for (std::int64_t k = 0; k < features.size(1); ++k) header.push_back(fmt::format("f{}", k));
  return csv_line(header);
}

}  // namespace

fs::path evaluation_output_dir(const RunDir& run_dir, const std::string& task,
                               const std::string& train_config, const std::string& arch) {
  return run_dir.root() / "eval" / task / train_config / arch;
}

EvaluateResult run_evaluate(const EvaluateOptions& o, const std::string& task,
                            const std::string& train_config, const std::string& arch,
                            std::uint64_t run_seed, int threads, const RunDir& run_dir,
                            const std::vector<train::ClassifierSample>& feature_extras) {
  const auto& t = data::find_task(task);
  // model.pt, or bgt.json for DenseNet + bagging trees (densenet121-bgt).
  const auto model_file =
      trained_model_file(train::classifier_output_dir(run_dir, task, train_config, arch), arch);
  if (!fs::exists(model_file)) {
    throw Error(
        fmt::format("{} not found: run `cxrsynth train-classifier --run-dir {} --task {} "
                    "--train-config {} --arch {}` first",
                    model_file.string(), run_dir.root().string(), task, train_config, arch));
  }
  auto model = load_scoring_model(model_file);
  const int image_size =
      model.metadata.count("image_size") ? std::stoi(model.metadata.at("image_size")) : 0;
  const auto validation_split =
      model.metadata.count("validation_split") ? model.metadata.at("validation_split") : "val";
  const auto data = train::classifier_data_from_manifest(run_dir, task);
  train::require_both_classes(data.test, fmt::format("task {} test split", task));
  if (validation_split == "test") {
    log_warn(
        "{} was validated on the TEST split (the authors' behaviour): its test metrics are "
        "optimistic; evaluation.json marks them",
        model_file.string());
  }

  const auto test = run_classifier(model, data.test, image_size, o.batch_size, o.features);
  const auto predictions = to_predictions(data.test, test.p_covid);
  const auto name = fmt::format("eval/{}/{}/{}", task, train_config, arch);
  BootstrapOptions bo;
  bo.draws = o.bootstrap_draws;
  bo.level = o.level;
  bo.threads = threads;
  MetricsReport report;
  report.negative_class = std::string(t.label_a);
  report.at_threshold =
      bootstrap_metrics(predictions, o.threshold, derive_seed(run_seed, name + "/bootstrap"), bo);
  if (o.target_specificity > 0) {
    if (data.val.empty()) {
      throw Error(
          fmt::format("evaluate.target_specificity is set but task {} has no validation "
                      "images to choose the threshold on",
                      task));
    }
    const auto val = run_classifier(model, data.val, image_size, o.batch_size, false);
    const double thr =
        threshold_for_specificity(to_predictions(data.val, val.p_covid), o.target_specificity);
    report.target_specificity = o.target_specificity;
    report.threshold_source = "validation";
    report.at_fixed_specificity =
        bootstrap_metrics(predictions, thr, derive_seed(run_seed, name + "/bootstrap"), bo);
  }

  const auto out = evaluation_output_dir(run_dir, task, train_config, arch);
  write_predictions_csv(out / "predictions.csv", predictions, o.threshold);
  write_metrics_json(out / "metrics.json", report);
  if (o.features) {
    std::string text =
        features_header(test.features) + feature_rows(data.test, test.features, "test");
    if (!feature_extras.empty()) {
      const auto extra = run_classifier(model, feature_extras, image_size, o.batch_size, true);
      text += feature_rows(feature_extras, extra.features, "extra");
    }
    write_file_atomic(out / "features.csv", text);
  }
  nlohmann::json j;
  j["schema"] = "cxrsynth.evaluation/1";
  j["model"] = model_file.string();
  j["task"] = task;
  j["train_config"] = train_config;
  j["arch"] = arch;
  j["test_images"] = data.test.size();
  j["validation_split"] = validation_split;
  j["validated_on_test_set"] = validation_split == "test";
  for (const auto& [k, v] : model.metadata) j["model_metadata"][k] = v;
  write_file_atomic(out / "evaluation.json", j.dump(2) + "\n");

  const auto& m = report.at_threshold.point;
  log_info(
      "{}: sensitivity {:.2f}% ({} FN of {} COVID-19 test images), specificity {:.2f}%, "
      "ROC-AUC {:.3f}; wrote {}",
      name, 100 * m.sensitivity, m.cm.fn, m.cm.positives(), 100 * m.specificity, m.roc_auc,
      out.string());
  return {m.sensitivity, m.cm.fn, static_cast<std::int64_t>(data.test.size())};
}

}  // namespace cxrsynth::eval
