// Binary classification metrics for COVID-19 detection (positive class = covid), as the
// paper reports them (sensitivity, false negatives; METHOD.md sec. 3) plus the ones a reader
// needs to judge them (specificity, PPV, NPV, F1, balanced accuracy, ROC-AUC, PR-AUC).
//
// Conventions (the Python reference scripts/reference/metrics_reference.py follows them):
// - an image is predicted covid when p_covid >= threshold (default 0.5);
// - a value that is undefined on the data (sensitivity without positives, PPV without
//   predicted positives, an AUC without both classes) is NaN, never 0; JSON writes null;
// - ROC-AUC is the Mann-Whitney statistic: P(score_pos > score_neg) + 0.5 P(tie);
// - PR-AUC is average precision: sum over distinct thresholds, descending, of
//   (R_k - R_{k-1}) * P_k (scikit-learn's definition; no interpolation).
// Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace cxrsynth::eval {

// One scored image. label: 1 = covid (positive), 0 = the negative class (normal/pneumonia).
struct Prediction {
  std::string id;
  std::string patient_id;
  int label = 0;
  double p_covid = 0.0;
};

// Throws cxrsynth::Error naming the first bad row (label not 0/1, p_covid not finite or
// outside [0, 1], empty patient id). Every function below checks labels and scores itself;
// the patient id is checked where it matters (bootstrap, writers, compute_metrics).
void check_predictions(const std::vector<Prediction>& predictions);

struct ConfusionMatrix {
  std::int64_t tp = 0, fp = 0, tn = 0, fn = 0;
  std::int64_t positives() const { return tp + fn; }
  std::int64_t negatives() const { return tn + fp; }
};

ConfusionMatrix confusion_matrix(const std::vector<Prediction>& predictions, double threshold);

struct BinaryMetrics {
  double threshold = 0.5;
  std::int64_t n = 0;
  ConfusionMatrix cm;
  double sensitivity = 0;        // TP / (TP + FN)   recall, true positive rate
  double specificity = 0;        // TN / (TN + FP)
  double ppv = 0;                // TP / (TP + FP)   precision
  double npv = 0;                // TN / (TN + FN)
  double f1 = 0;                 // 2 TP / (2 TP + FP + FN)
  double balanced_accuracy = 0;  // (sensitivity + specificity) / 2
  double accuracy = 0;           // (TP + TN) / n
  double roc_auc = 0;
  double pr_auc = 0;  // average precision
};

// Everything above at `threshold`. Checks the predictions first.
BinaryMetrics compute_metrics(const std::vector<Prediction>& predictions, double threshold = 0.5);

// Rates from counts (NaN where the denominator is 0).
BinaryMetrics metrics_from_confusion(const ConfusionMatrix& cm, double threshold);

// Mann-Whitney ROC-AUC with tied scores counted one half; NaN without both classes.
double roc_auc(const std::vector<Prediction>& predictions);

// Average precision; NaN without positives.
double average_precision(const std::vector<Prediction>& predictions);

struct RocPoint {
  double threshold;  // predicted positive when p_covid >= threshold; the first is +inf
  double fpr;
  double tpr;
};

// One point per distinct score, thresholds descending, from (inf, 0, 0) to (min, 1, 1).
// Rates are NaN for a class that is absent.
std::vector<RocPoint> roc_curve(const std::vector<Prediction>& predictions);

// The threshold that reaches at least `target_specificity` with the highest sensitivity:
// just above the k-th smallest negative score, k = ceil(target * negatives), placed halfway
// to the next larger score in the data (or at the next representable double above it when
// no score is larger). k = 0 gives the smallest score (everything positive). NaN without
// negatives. target in [0, 1].
double threshold_for_specificity(const std::vector<Prediction>& predictions,
                                 double target_specificity);

// Names and values of the reported metrics in a fixed order (tp, fp, tn, fn as doubles),
// shared by the bootstrap and the JSON writer.
std::vector<std::pair<std::string, double>> metric_values(const BinaryMetrics& m);

}  // namespace cxrsynth::eval
