"""Builds a tiny fake run directory with every file the report reads (fixed seed)."""
import csv
import json
from pathlib import Path

import numpy as np
from PIL import Image

TASKS = [("normal-vs-covid", "normal"), ("pneumonia-vs-covid", "pneumonia")]
TASK_NAMES = [t for t, _ in TASKS]
# Few configurations: each features.csv costs a UMAP fit (seconds on 2 cores).
CONFIGS = ["real", "real+gnc+gpc"]
ARCHS = ["vgg16"]


def _csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def _png(path, rng, bits=8, bright=0.0, h=32, w=32):
    path.parent.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:h, 0:w]
    a = 0.5 + 0.3 * np.sin(xx / 4.0) * np.cos(yy / 5.0) + 0.1 * rng.random((h, w)) + bright
    a = np.clip(a, 0, 1)
    if bits == 16:
        Image.fromarray((a * 65535).astype(np.uint16)).save(path)
    else:
        Image.fromarray((a * 255).astype(np.uint8), mode="L").save(path)


def make(root, skip=()):
    """Writes the run; `skip` lists relative paths (or prefixes) to leave out."""
    root = Path(root)
    rng = np.random.default_rng(1234)
    skipped = lambda rel: any(rel == s or rel.startswith(s.rstrip("/") + "/") for s in skip)

    # data/manifest.csv: 8/16-bit PNGs, three labels, three splits.
    rows = []
    counts = {"normal": (12, 3, 3), "pneumonia": (9, 3, 3), "covid": (4, 2, 6)}
    for label, per_split in counts.items():
        for split, n in zip(("train", "val", "test"), per_split):
            for i in range(n):
                iid = f"{label}-{split}-{i}"
                bits = 16 if i % 2 else 8
                rel = f"images/{iid}.png"
                _png(root / "data" / rel, rng, bits)
                rows.append([iid, "phantom", f"p-{iid}", label, "", "PA", split, f"orig/{iid}.png", rel,
                             32, 32, bits, "0" * 64, "normal-vs-covid" if label != "pneumonia" else "pneumonia-vs-covid"])
    if not skipped("data/manifest.csv"):
        _csv(root / "data/manifest.csv",
             "id,source,patient_id,label,subtype,view,split,original_path,path,width,height,bit_depth,sha256,gan_tasks".split(","),
             rows)
    if not skipped("data/summary.json"):
        (root / "data/summary.json").write_text(json.dumps({"rows": len(rows), "rejected": 0}))

    for task, neg in TASKS:
        if not skipped(f"gan/{task}"):
            steps = np.arange(1, 121)
            _csv(root / f"gan/{task}/losses.csv",
                 ["epoch", "step", "loss_g", "loss_d_a", "loss_d_b", "loss_cycle_a", "loss_idt_a", "lr", "time_s"],
                 [[s // 40, s, 3 * np.exp(-s / 50) + 0.1 * rng.random(), 0.25 + 0.05 * rng.random(),
                   0.25 + 0.05 * rng.random(), 2 * np.exp(-s / 30), 1 * np.exp(-s / 30), 2e-4, s * 0.04] for s in steps])
            for k in (1, 2, 10):
                _png(root / f"gan/{task}/samples/step_{k * 40}.png", rng, h=64, w=128)
        if not skipped(f"synthetic/{task}"):
            srcs = [r for r in rows if r[3] == neg and r[6] == "train"]
            syn = []
            for i, r in enumerate(srcs):
                rel = f"images/{r[0]}-syn.png"
                _png(root / f"synthetic/{task}" / rel, rng, bright=0.2)
                syn.append([f"{task}-syn-{i}", r[0], r[2], "train", "a2b", "c" * 64, "h" * 16, rel, "d" * 64])
            _csv(root / f"synthetic/{task}/manifest.csv",
                 "id,source_id,source_patient_id,source_split,direction,checkpoint_sha256,options_hash,path,output_sha256".split(","),
                 syn)

    for task, neg in TASKS:
        test = [r for r in rows if r[6] == "test" and r[3] in (neg, "covid")]
        for ci, config in enumerate(CONFIGS if neg == "normal" else CONFIGS[:1]):
            for arch in ARCHS:
                sub = f"{task}/{config}/{arch}"
                if not skipped(f"classifiers/{sub}"):
                    _csv(root / f"classifiers/{sub}/history.csv",
                         ["epoch", "train_loss", "val_loss", "val_accuracy", "lr"],
                         [[e, 0.7 * np.exp(-e / 4), 0.7 * np.exp(-e / 5) + 0.05, 0.5 + 0.04 * e, 1e-4] for e in range(1, 11)])
                if skipped(f"eval/{sub}"):
                    continue
                preds = []
                for r in test:
                    y = int(r[3] == "covid")
                    p = float(np.clip(0.3 + 0.2 * y + 0.1 * ci * y + 0.25 * rng.standard_normal(), 0, 1))
                    preds.append([r[0], r[2], y, f"{p:.4f}", int(p >= 0.5)])
                _csv(root / f"eval/{sub}/predictions.csv", ["id", "patient_id", "label", "p_covid", "pred"], preds)
                tp = sum(1 for q in preds if q[2] == 1 and q[4] == 1)
                fn = sum(1 for q in preds if q[2] == 1 and q[4] == 0)
                iv = lambda v, lo, hi: {"value": v, "ci_lo": lo, "ci_hi": hi, "defined_draws": 1000}
                point = {"sensitivity": iv(tp / (tp + fn), 0.1, 0.9), "specificity": iv(0.5, 0.2, 0.8),
                         "tp": iv(float(tp), 1.0, 6.0), "fn": iv(float(fn), 0.0, 5.0), "ppv": iv(None, None, None),
                         "roc_auc": iv(0.7, 0.5, 0.9)}
                if neg == "normal":  # the eval stage's schema
                    metrics = {"schema": "cxrsynth.metrics/1", "n_images": len(preds),
                               "at_threshold": {"threshold": 0.5, "metrics": point},
                               "at_fixed_specificity": {"target_specificity": 0.9, "threshold_source": "validation",
                                                        "threshold": None, "reason": "no negatives in the validation predictions"}}
                else:  # a flat object, as a simpler writer might do
                    metrics = {"sensitivity": {"value": tp / (tp + fn), "ci_low": 0.1, "ci_high": 0.9}, "tp": tp, "fn": fn}
                if not skipped(f"eval/{sub}/metrics.json"):
                    (root / f"eval/{sub}/metrics.json").write_text(json.dumps(metrics))
                if not skipped(f"eval/{sub}/features.csv"):
                    feats = []
                    f = lambda shift: list(np.round(rng.standard_normal(8) + shift, 4))
                    if neg == "normal":  # the brief's layout: a group column
                        for g, shift in (("Normal", 0.0), ("COVID-19", 2.0), ("G_NC", 1.5), ("G_PC", 1.0)):
                            feats += [[f"{g}-{i}", g] + f(shift) for i in range(20)]
                        _csv(root / f"eval/{sub}/features.csv", ["id", "group"] + [f"f{j}" for j in range(8)], feats)
                    else:  # the eval stage's layout: label (1 = COVID-19) and origin
                        for origin, label, shift in (("real", 0, 0.0), ("real", 1, 2.0),
                                                     ("synthetic:pneumonia-vs-covid", 1, 1.5)):
                            if origin != "real" and "real-only-features" in skip:
                                continue
                            feats += [[f"{origin}-{label}-{i}", f"p{i}", label, "test", origin] + f(shift) for i in range(20)]
                        _csv(root / f"eval/{sub}/features.csv",
                             ["id", "patient_id", "label", "split", "origin"] + [f"f{j}" for j in range(8)], feats)

    if not skipped("experiment"):
        (root / "experiment").mkdir(exist_ok=True)
        (root / "experiment/tables.md").write_text(
            "## Table 1: normal-vs-covid\n\n| Configuration | Model | Sensitivity | FN |\n|---|---|---|---|\n"
            "| real | vgg16 | 0.500 [0.1, 0.9] | 3 |\n| real+gnc | vgg16 | 0.667 [0.2, 0.9] | 2 |\n\n"
            "- VGG-16 / Real+G_NC: higher, intervals overlap\n- VGG-16 / G_NC only: no\n")
        (root / "experiment/tables.json").write_text("{}")
    return root
