"""Classifier results: Figs. 4-7 (P(COVID) of each COVID test case), ROC curves, training
histories, Fig. 8 (UMAP of pooled features) and the per-run metrics table."""
import warnings

from .inputs import config_key, numeric_columns, slug, split_config, to_float
from .plot import GROUP_COLORS, grid, legend_below, plain_numbers, plt, save

PRED_COLS = ("id", "label", "p_covid")
UMAP_PER_GROUP = 180  # the authors' 180 images per group (paper sec. 4, Fig. 8)
UMAP_SEED = 0
GROUP_ORDER = ["Normal", "Pneumonia", "COVID-19", "G_NC", "G_PC"]


class EvalRun:
    """One eval/<...>/<arch>/ directory."""

    def __init__(self, rel_dir, parts):
        self.dir = rel_dir
        self.task, self.config, self.arch = split_config(parts)
        self.classifier_dir = "classifiers/" + "/".join(parts)
        self.y = None  # 1 = COVID-19
        self.p = None
        self.pred = None
        self.ids = None

    @property
    def name(self):
        return "/".join(x for x in (self.task, self.config, self.arch) if x)


def discover(inputs):
    runs = []
    for rel in inputs.glob("eval/**/predictions.csv"):
        parts = rel.split("/")[1:-1]
        if not parts:
            continue
        runs.append(EvalRun("/".join(["eval"] + parts), parts))
    runs.sort(key=lambda r: (r.task, r.arch, config_key(r.config)))
    return runs


def _is_covid(v):
    s = str(v).strip().lower()
    if s in ("1", "1.0", "covid", "covid-19", "true"):
        return 1
    if s in ("0", "0.0", "normal", "pneumonia", "false"):
        return 0
    raise ValueError(f"label '{v}' is not 1/0 (COVID-19 / not)")


def load_predictions(ctx, runs):
    import numpy as np

    ok = []
    for r in runs:
        rel = f"{r.dir}/predictions.csv"
        rows = ctx.inputs.csv(rel, f"Figs. 4-7 / ROC ({r.name})", required=PRED_COLS)
        if rows is None:
            continue
        try:
            r.y = np.array([_is_covid(x["label"]) for x in rows], dtype=int)
            r.p = np.array([float(x["p_covid"]) for x in rows])
            r.pred = (
                np.array([_is_covid(x["pred"]) for x in rows], dtype=int)
                if "pred" in rows[0]
                else (r.p >= 0.5).astype(int)
            )
            r.ids = [x["id"] for x in rows]
        except ValueError as e:
            ctx.inputs.note_missing(f"Figs. 4-7 / ROC ({r.name})", rel, f"unreadable: {e}")
            continue
        ok.append(r)
    return ok


def _groups(runs):
    out = {}
    for r in runs:
        out.setdefault((r.task, r.arch), []).append(r)
    return out


def confidence_section(ctx, sec, runs):
    import numpy as np

    for (task, arch), rs in _groups(runs).items():
        fig, axes = grid(len(rs), ncols=3, w=4.3, h=3.2)
        for ax, r in zip(axes, rs):
            pos = r.y == 1
            p, pred = r.p[pos], r.pred[pos]
            x = np.arange(len(p))
            ax.scatter(x[pred == 1], p[pred == 1], s=12, color="#2ca02c", label="predicted COVID-19")
            ax.scatter(x[pred == 0], p[pred == 0], s=12, color="#d62728", label="missed (FN)")
            ax.axhline(0.5, ls="--", color="k", lw=1)
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel("COVID-19 test case")
            ax.set_ylabel("P(COVID-19)")
            tp = int((pred == 1).sum())
            sens = f"{tp / len(p):.3f}" if len(p) else "n/a"
            ax.set_title(f"{r.config}\nTP {tp} / {len(p)}, FN {len(p) - tp}, sensitivity {sens}")
        label = " ".join(x for x in (task, arch) if x)
        fig.suptitle(f"P(COVID-19) of every COVID-19 test case: {label}", fontsize=11)
        fig.tight_layout()
        legend_below(fig, axes)
        path = save(fig, ctx.figdir, slug("fig4-7_confidence", task, arch))
        sec.figure(
            path,
            f"Figs. 4-7 ({label}): P(COVID-19) for each COVID-19 test case, one panel per training "
            "configuration; dashed line at 0.5; colour = the classifier's decision (pred).",
        )


def roc_curve(y, s):
    """(fpr, tpr, auc) with tied scores handled as one threshold; None when one class is absent."""
    import numpy as np

    P, N = int(y.sum()), int(len(y) - y.sum())
    if P == 0 or N == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    last = np.r_[np.nonzero(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[last]
    fps = last + 1 - tps
    tpr = np.r_[0.0, tps / P]
    fpr = np.r_[0.0, fps / N]
    auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    return fpr, tpr, auc


def roc_section(ctx, sec, runs):
    for (task, arch), rs in _groups(runs).items():
        fig, ax = plt.subplots(figsize=(5.6, 5.0))
        notes = []
        for r in rs:
            c = roc_curve(r.y, r.p)
            if c is None:
                notes.append(f"{r.config}: only one class in {r.dir}/predictions.csv, no ROC curve")
                continue
            ax.plot(c[0], c[1], lw=1.4, label=f"{r.config} (AUC {c[2]:.3f})")
        ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
        ax.set_xlabel("False positive rate (1 - specificity)")
        ax.set_ylabel("True positive rate (sensitivity)")
        ax.set_aspect("equal")
        label = " ".join(x for x in (task, arch) if x)
        ax.set_title(f"ROC, test split: {label}")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="lower right")
        path = save(fig, ctx.figdir, slug("roc", task, arch))
        sec.figure(path, f"ROC curves ({label}) computed from predictions.csv (p_covid vs label).")
        for n in notes:
            sec.text(n)


def history_section(ctx, sec, runs):
    import numpy as np

    # Every classifier with a history.csv, plus the one expected beside each eval run.
    seen = {}
    for rel in ctx.inputs.glob("classifiers/**/history.csv"):
        parts = rel.split("/")[1:-1]
        if parts:
            seen["classifiers/" + "/".join(parts)] = parts
    for r in runs:
        if r.classifier_dir not in seen:
            seen[r.classifier_dir] = r.classifier_dir.split("/")[1:]
    groups = {}
    for d, parts in seen.items():
        task, config, arch = split_config(parts)
        name = "/".join(x for x in (task, config, arch) if x)
        rows = ctx.inputs.csv(f"{d}/history.csv", f"Classifier history ({name})")
        if rows is None:
            continue
        cols = numeric_columns(rows, exclude=("epoch",))
        if not rows or not cols:
            ctx.inputs.note_missing(f"Classifier history ({name})", f"{d}/history.csv", "unreadable: no numeric rows")
            continue
        groups.setdefault((task, arch), []).append((config, rows, cols))
    for (task, arch), items in sorted(groups.items()):
        items.sort(key=lambda t: config_key(t[0]))
        cols = []
        for _, _, cs in items:
            cols += [c for c in cs if c not in cols]
        fig, axes = grid(len(cols), ncols=3, w=4.2, h=3.0)
        for ax, c in zip(axes, cols):
            for config, rows, _ in items:
                if c not in rows[0]:
                    continue
                x = (
                    np.array([to_float(r["epoch"]) for r in rows])
                    if "epoch" in rows[0]
                    else np.arange(1, len(rows) + 1)
                )
                ax.plot(x, [to_float(r[c]) for r in rows], marker="." if len(rows) < 40 else None, label=config)
            ax.set_title(c)
            ax.set_xlabel("epoch")
            plain_numbers(ax)
            ys = [to_float(r[c]) for _, rows, _ in items if c in rows[0] for r in rows]
            ys = [y for y in ys if y == y]
            if c == "lr" and ys and min(ys) > 0 and max(ys) / min(ys) >= 10:
                ax.set_yscale("log")
        label = " ".join(x for x in (task, arch) if x)
        fig.suptitle(f"Classifier training history: {label}", fontsize=11)
        fig.tight_layout()
        legend_below(fig, axes)
        path = save(fig, ctx.figdir, slug("history", task, arch))
        sec.figure(path, f"Training histories ({label}): every numeric column of history.csv, one line per configuration.")


def umap_section(ctx, sec, runs):
    import numpy as np

    # Several experiment seeds ("real/seed-0", "real/seed-1", ...): one UMAP, of the first seed
    # (each fit costs seconds); the caption says so.
    by_base = {}
    for r in runs:
        by_base.setdefault((r.task, r.arch, r.config.split("/seed-")[0]), []).append(r)
    for (_, _, base), group in by_base.items():
        if len(group) > 1:
            sec.text(
                f"Fig. 8 for {base}: drawn for {group[0].name} only, the first of {len(group)} "
                f"seed directories ({', '.join(g.config for g in group)})."
            )
    firsts = [g[0] for g in by_base.values()]
    drawn = []
    for (task, arch), rs in _groups(firsts).items():
        rs = sorted(rs, key=lambda r: _fig8_rank(r))
        drawn += rs[:FIG8_PER_MODEL]
        if len(rs) > FIG8_PER_MODEL:
            label = " ".join(x for x in (task, arch) if x)
            sec.text(
                f"Fig. 8 ({label}) is drawn for {', '.join(r.config for r in rs[:FIG8_PER_MODEL])} only "
                f"(each UMAP fit costs seconds); features.csv of {', '.join(r.config for r in rs[FIG8_PER_MODEL:])} "
                "can be drawn the same way."
            )
    for r in drawn:
        panel = f"Fig. 8 UMAP ({r.name})"
        rel = f"{r.dir}/features.csv"
        rows = ctx.inputs.csv(rel, panel)
        if rows is None:
            continue
        fcols = [c for c in rows[0].keys() if c.startswith("f") and c[1:].isdigit()] if rows else []
        if not fcols:
            ctx.inputs.note_missing(panel, rel, "unreadable: no rows or no f0,f1,... columns")
            continue
        try:
            X = np.array([[float(x[c]) for c in fcols] for x in rows])
            groups = np.array([feature_group(x, r.task) for x in rows])
        except ValueError as e:
            ctx.inputs.note_missing(panel, rel, f"unreadable: {e}")
            continue
        if not ({"G_NC", "G_PC"} & set(groups)):
            ctx.inputs.note_missing(
                f"Fig. 8 synthetic groups ({r.name})", rel, "no G_NC/G_PC rows: Fig. 8 drawn with real images only"
            )
        names = [g for g in GROUP_ORDER if g in set(groups)] + sorted(set(groups) - set(GROUP_ORDER))
        rng = np.random.default_rng(UMAP_SEED)
        keep = []
        totals = {g: int((groups == g).sum()) for g in names}
        for g in names:
            idx = np.nonzero(groups == g)[0]
            if len(idx) > UMAP_PER_GROUP:
                idx = np.sort(rng.choice(idx, UMAP_PER_GROUP, replace=False))
            keep.append(idx)
        keep = np.concatenate(keep)
        X, groups = X[keep], groups[keep]
        if len(X) < 4:
            ctx.inputs.note_missing(panel, rel, f"unreadable: {len(X)} rows, UMAP needs at least 4")
            continue
        emb = _umap(X)
        fig, ax = plt.subplots(figsize=(6.2, 5.2))
        for g in names:
            m = groups == g
            ax.scatter(emb[m, 0], emb[m, 1], s=10, alpha=0.75, color=GROUP_COLORS.get(g), label=f"{g} ({int(m.sum())}" + (f" of {totals[g]})" if totals[g] > m.sum() else ")"))
        ax.legend(markerscale=1.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"Fig. 8: UMAP of pooled features, {r.name}")
        path = save(fig, ctx.figdir, slug("fig8_umap", r.task, r.config, r.arch))
        sec.figure(
            path,
            f"Fig. 8 ({r.name}): 2-D UMAP (n_neighbors {min(15, len(X) - 1)}, random_state {UMAP_SEED}) of "
            f"the {len(fcols)}-d global-average-pooled features in {rel}; at most {UMAP_PER_GROUP} "
            "per group, drawn with a fixed seed.",
        )


# At most this many Fig. 8 panels per task and model, in this order of preference: the real
# training set, the task's own synthetic configuration, both synthetic sets, then the rest.
FIG8_PER_MODEL = 2
FIG8_PREFERENCE = ["real", "real+gnc", "real+gpc", "real+gnc+gpc", "synthetic-only"]


def _fig8_rank(r):
    base = r.config.split("/seed-")[0]
    own = {"normal-vs-covid": "real+gnc", "pneumonia-vs-covid": "real+gpc"}.get(r.task)
    if base in ("real+gnc", "real+gpc") and base != own:
        return (len(FIG8_PREFERENCE), r.config)
    return (FIG8_PREFERENCE.index(base) if base in FIG8_PREFERENCE else len(FIG8_PREFERENCE), r.config)


SYNTHETIC_GROUPS = {"normal-vs-covid": "G_NC", "pneumonia-vs-covid": "G_PC"}
NEGATIVE_GROUPS = {"normal-vs-covid": "Normal", "pneumonia-vs-covid": "Pneumonia"}


def feature_group(row, task):
    """The Fig. 8 group of a features.csv row: its `group` column, else from `origin`
    (real | synthetic:<task> | ...) and `label` (1 = COVID-19) of the eval stage's file."""
    if row.get("group"):
        return row["group"]
    origin = row.get("origin") or "real"
    if origin.startswith("synthetic:"):
        return SYNTHETIC_GROUPS.get(origin.split(":", 1)[1], origin)
    if "label" not in row:
        raise ValueError("neither a group nor a label column")
    if _is_covid(row["label"]):
        return "COVID-19"
    return NEGATIVE_GROUPS.get(task, "not COVID-19")


def _umap(X):
    from .deps import require

    umap = require("umap")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = umap.UMAP(n_neighbors=min(15, len(X) - 1), n_components=2, random_state=UMAP_SEED)
        return model.fit_transform(X)
