#!/usr/bin/python3
"""Reference values for src/eval/metrics.{h,cpp}, computed independently with numpy only.

Reads a predictions.csv (id, patient_id, label, p_covid[, pred]) and writes JSON with the
confusion matrix and rates at each --threshold, ROC-AUC, average precision, the ROC curve and
the threshold for each --specificity. Conventions as in src/eval/metrics.h:
  predicted covid when p_covid >= threshold; undefined values are null (never 0);
  ROC-AUC = P(pos > neg) + 0.5 P(tie), here by comparing every positive with every negative;
  average precision = mean over positives of the precision at that positive's score
  (equal to scikit-learn's step sum over distinct thresholds);
  the fixed-specificity threshold is the smallest candidate (the smallest score, midpoints of
  consecutive distinct scores, the next double above the largest score) whose specificity
  reaches the target.

Used by tests/eval/metrics_reference_test.cpp. Exit status 3 when numpy is missing.
"""
import argparse
import csv
import json
import math
import sys

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not installed for", sys.executable)
    sys.exit(3)


def ratio(num, den):
    return None if den == 0 else num / den


def at_threshold(labels, scores, t):
    pred = scores >= t
    tp = int(np.sum(pred & (labels == 1)))
    fp = int(np.sum(pred & (labels == 0)))
    tn = int(np.sum(~pred & (labels == 0)))
    fn = int(np.sum(~pred & (labels == 1)))
    sens = ratio(tp, tp + fn)
    spec = ratio(tn, tn + fp)
    return {
        "threshold": t, "tp": tp, "fp": fp, "tn": tn, "fn": fn,
        "sensitivity": sens, "specificity": spec,
        "ppv": ratio(tp, tp + fp), "npv": ratio(tn, tn + fn),
        "f1": ratio(2 * tp, 2 * tp + fp + fn),
        "balanced_accuracy": None if sens is None or spec is None else 0.5 * (sens + spec),
        "accuracy": ratio(tp + tn, len(labels)),
    }


def roc_auc(labels, scores):
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return None
    greater = np.sum(pos[:, None] > neg[None, :])
    ties = np.sum(pos[:, None] == neg[None, :])
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def average_precision(labels, scores):
    pos = scores[labels == 1]
    if len(pos) == 0:
        return None
    precisions = [np.sum((scores >= s) & (labels == 1)) / np.sum(scores >= s) for s in pos]
    return float(np.mean(precisions))


def roc_curve(labels, scores):
    p, n = int(np.sum(labels == 1)), int(np.sum(labels == 0))
    points = [{"threshold": None, "fpr": ratio(0, n), "tpr": ratio(0, p)}]  # threshold +inf
    for t in sorted(set(scores.tolist()), reverse=True):
        pred = scores >= t
        points.append({"threshold": t,
                       "fpr": ratio(int(np.sum(pred & (labels == 0))), n),
                       "tpr": ratio(int(np.sum(pred & (labels == 1))), p)})
    return points


def threshold_for_specificity(labels, scores, target):
    n = int(np.sum(labels == 0))
    if n == 0:
        return None
    distinct = sorted(set(scores.tolist()))
    candidates = [distinct[0]]
    candidates += [0.5 * (a + b) for a, b in zip(distinct[:-1], distinct[1:])]
    candidates.append(float(np.nextafter(distinct[-1], np.inf)))
    # Same integer count as the C++ (k = ceil(target * n), guarded against 0.9 * 10 rounding).
    k = math.ceil(target * n - 1e-9)
    for t in candidates:
        if int(np.sum((scores < t) & (labels == 0))) >= k:
            return t
    raise AssertionError("unreachable: the last candidate has specificity 1")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictions", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threshold", type=float, nargs="+", default=[0.5])
    ap.add_argument("--specificity", type=float, nargs="*", default=[])
    args = ap.parse_args()
    with open(args.predictions, newline="") as f:
        rows = list(csv.DictReader(f))
    labels = np.array([int(r["label"]) for r in rows], dtype=np.int64)
    scores = np.array([float(r["p_covid"]) for r in rows], dtype=np.float64)
    out = {
        "n": len(rows),
        "at_threshold": [at_threshold(labels, scores, t) for t in args.threshold],
        "roc_auc": roc_auc(labels, scores),
        "pr_auc": average_precision(labels, scores),
        "roc_curve": roc_curve(labels, scores),
        "threshold_for_specificity": [
            {"target": s, "threshold": threshold_for_specificity(labels, scores, s)}
            for s in args.specificity],
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
