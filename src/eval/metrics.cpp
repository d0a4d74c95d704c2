#include "eval/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace cxrsynth::eval {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double ratio(std::int64_t num, std::int64_t den) {
  return den == 0 ? kNaN : static_cast<double>(num) / static_cast<double>(den);
}

// Indices sorted by descending score (stable, so equal scores keep their input order; the
// results below do not depend on it).
std::vector<std::size_t> by_descending_score(const std::vector<Prediction>& p) {
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return p[a].p_covid > p[b].p_covid; });
  return order;
}

}  // namespace

namespace {

void check_scores(const std::vector<Prediction>& predictions) {
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    const Prediction& p = predictions[i];
    if (p.label != 0 && p.label != 1) {
      throw Error(fmt::format("prediction {} (id '{}'): label {} is not 0 (negative) or 1 (covid)",
                              i, p.id, p.label));
    }
    if (!std::isfinite(p.p_covid) || p.p_covid < 0.0 || p.p_covid > 1.0) {
      throw Error(
          fmt::format("prediction {} (id '{}'): p_covid {} is not a probability in "
                      "[0, 1]",
                      i, p.id, p.p_covid));
    }
  }
}

}  // namespace

void check_predictions(const std::vector<Prediction>& predictions) {
  check_scores(predictions);
  for (std::size_t i = 0; i < predictions.size(); ++i) {
    if (predictions[i].patient_id.empty()) {
      throw Error(fmt::format("prediction {} (id '{}'): empty patient_id", i, predictions[i].id));
    }
  }
}

ConfusionMatrix confusion_matrix(const std::vector<Prediction>& predictions, double threshold) {
  check_scores(predictions);
  ConfusionMatrix cm;
  for (const auto& p : predictions) {
    const bool positive = p.p_covid >= threshold;
    if (p.label == 1) {
      (positive ? cm.tp : cm.fn)++;
    } else {
      (positive ? cm.fp : cm.tn)++;
    }
  }
  return cm;
}

BinaryMetrics metrics_from_confusion(const ConfusionMatrix& cm, double threshold) {
  BinaryMetrics m;
  m.threshold = threshold;
  m.cm = cm;
  m.n = cm.tp + cm.fp + cm.tn + cm.fn;
  m.sensitivity = ratio(cm.tp, cm.tp + cm.fn);
  m.specificity = ratio(cm.tn, cm.tn + cm.fp);
  m.ppv = ratio(cm.tp, cm.tp + cm.fp);
  m.npv = ratio(cm.tn, cm.tn + cm.fn);
  m.f1 = ratio(2 * cm.tp, 2 * cm.tp + cm.fp + cm.fn);
  m.balanced_accuracy = 0.5 * (m.sensitivity + m.specificity);  // NaN propagates
  m.accuracy = ratio(cm.tp + cm.tn, m.n);
  m.roc_auc = kNaN;
  m.pr_auc = kNaN;
  return m;
}

double roc_auc(const std::vector<Prediction>& predictions) {
  check_scores(predictions);
  // Mann-Whitney U from mid-ranks of the scores (ascending): ties count one half.
  std::vector<std::size_t> order(predictions.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return predictions[a].p_covid < predictions[b].p_covid;
  });
  double rank_sum = 0.0;
  std::int64_t pos = 0, neg = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && predictions[order[j]].p_covid == predictions[order[i]].p_covid) ++j;
    const double mid_rank = 0.5 * static_cast<double>(i + 1 + j);  // mean of ranks i+1..j
    for (std::size_t k = i; k < j; ++k) {
      if (predictions[order[k]].label == 1) {
        rank_sum += mid_rank;
        ++pos;
      } else {
        ++neg;
      }
    }
    i = j;
  }
  if (pos == 0 || neg == 0) return kNaN;
  const double p = static_cast<double>(pos), n = static_cast<double>(neg);
  return (rank_sum - p * (p + 1.0) / 2.0) / (p * n);
}

double average_precision(const std::vector<Prediction>& predictions) {
  check_scores(predictions);
  std::int64_t positives = 0;
  for (const auto& p : predictions) positives += p.label;
  if (positives == 0) return kNaN;
  const auto order = by_descending_score(predictions);
  std::int64_t tp = 0, fp = 0;
  double ap = 0.0, last_recall = 0.0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && predictions[order[j]].p_covid == predictions[order[i]].p_covid) {
      (predictions[order[j]].label == 1 ? tp : fp)++;
      ++j;
    }
    const double recall = static_cast<double>(tp) / static_cast<double>(positives);
    const double precision = static_cast<double>(tp) / static_cast<double>(tp + fp);
    ap += (recall - last_recall) * precision;
    last_recall = recall;
    i = j;
  }
  return ap;
}

std::vector<RocPoint> roc_curve(const std::vector<Prediction>& predictions) {
  check_scores(predictions);
  std::int64_t positives = 0;
  for (const auto& p : predictions) positives += p.label;
  const std::int64_t negatives = static_cast<std::int64_t>(predictions.size()) - positives;
  const auto order = by_descending_score(predictions);
  std::vector<RocPoint> out;
  out.push_back(
      {std::numeric_limits<double>::infinity(), ratio(0, negatives), ratio(0, positives)});
  std::int64_t tp = 0, fp = 0;
  for (std::size_t i = 0; i < order.size();) {
    const double score = predictions[order[i]].p_covid;
    while (i < order.size() && predictions[order[i]].p_covid == score) {
      (predictions[order[i]].label == 1 ? tp : fp)++;
      ++i;
    }
    out.push_back({score, ratio(fp, negatives), ratio(tp, positives)});
  }
  return out;
}

double threshold_for_specificity(const std::vector<Prediction>& predictions,
                                 double target_specificity) {
  if (!(target_specificity >= 0.0 && target_specificity <= 1.0)) {
    throw UsageError(fmt::format("target specificity {} is outside [0, 1]", target_specificity));
  }
  check_scores(predictions);
  std::vector<double> negatives, all;
  for (const auto& p : predictions) {
    all.push_back(p.p_covid);
    if (p.label == 0) negatives.push_back(p.p_covid);
  }
  if (negatives.empty()) return kNaN;
  std::sort(negatives.begin(), negatives.end());
  std::sort(all.begin(), all.end());
  // The 1e-9 keeps k exact where target * n is an integer up to rounding (0.9 * 10).
  const auto k = static_cast<std::size_t>(
      std::ceil(target_specificity * static_cast<double>(negatives.size()) - 1e-9));
  if (k == 0) return all.front();
  const double v = negatives[k - 1];  // the k smallest negatives must fall below the threshold
  const auto next = std::upper_bound(all.begin(), all.end(), v);
  if (next == all.end()) return std::nextafter(v, std::numeric_limits<double>::infinity());
  return 0.5 * (v + *next);
}

BinaryMetrics compute_metrics(const std::vector<Prediction>& predictions, double threshold) {
  check_predictions(predictions);
  BinaryMetrics m = metrics_from_confusion(confusion_matrix(predictions, threshold), threshold);
  m.roc_auc = roc_auc(predictions);
  m.pr_auc = average_precision(predictions);
  return m;
}

std::vector<std::pair<std::string, double>> metric_values(const BinaryMetrics& m) {
  return {{"tp", static_cast<double>(m.cm.tp)},
          {"fp", static_cast<double>(m.cm.fp)},
          {"tn", static_cast<double>(m.cm.tn)},
          {"fn", static_cast<double>(m.cm.fn)},
          {"sensitivity", m.sensitivity},
          {"specificity", m.specificity},
          {"ppv", m.ppv},
          {"npv", m.npv},
          {"f1", m.f1},
          {"balanced_accuracy", m.balanced_accuracy},
          {"accuracy", m.accuracy},
          {"roc_auc", m.roc_auc},
          {"pr_auc", m.pr_auc}};
}

}  // namespace cxrsynth::eval
