"""Fig. 1 (source next to translation) and Fig. 3 (class counts per split, with the skew)."""
from .inputs import TASKS, to_float
from .plot import LABEL_COLORS, load_gray, plt, save

SPLITS = ["train", "val", "test"]
LABELS = ["normal", "pneumonia", "covid"]
LABEL_NAMES = {"normal": "Normal", "pneumonia": "Pneumonia", "covid": "COVID-19"}
MANIFEST_COLS = ("id", "label", "split", "path")
EXAMPLES_PER_TASK = 4


def data_section(ctx, sec):
    panel = "Fig. 3 class counts per split"
    rows = ctx.inputs.csv("data/manifest.csv", panel, required=MANIFEST_COLS)
    summary = ctx.inputs.json("data/summary.json", "Data summary (as written by the data stage)")
    if rows is None:
        sec.text("Fig. 3 could not be drawn: data/manifest.csv is missing or unreadable.")
    else:
        _fig3(ctx, sec, rows)
    if summary is not None:
        import json

        sec.text("The data stage's summary (data/summary.json), as written:")
        sec.pre(json.dumps(summary, indent=2, sort_keys=True))
    ctx.manifest = {r["id"]: r for r in rows} if rows else None


def _fig3(ctx, sec, rows):
    counts = {(l, s): 0 for l in LABELS for s in SPLITS}
    other = 0
    for r in rows:
        key = (r["label"], r["split"])
        if key in counts:
            counts[key] += 1
        else:
            other += 1
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    width = 0.26
    for j, label in enumerate(LABELS):
        xs = [i + (j - 1) * width for i in range(len(SPLITS))]
        ys = [counts[(label, s)] for s in SPLITS]
        bars = ax.bar(xs, ys, width, label=LABEL_NAMES[label], color=LABEL_COLORS[label])
        ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(SPLITS)), [s.capitalize() for s in SPLITS])
    ax.set_ylabel("Images")
    skews = []
    for task, neg in TASKS:
        n, p = counts[(neg, "train")], counts[("covid", "train")]
        skews.append((task, neg, n, p, f"{n / p:.2f}" if p else "n/a (no COVID-19 in train)"))
    ax.set_title(
        "Class counts per split\nTrain skew (negatives/positives): "
        + ", ".join(f"{LABEL_NAMES[neg]}:COVID-19 = {s}" for _, neg, _, _, s in skews)
    )
    ax.legend()
    path = save(fig, ctx.figdir, "fig3_class_counts")
    sec.figure(path, "Fig. 3: images per class and split (data/manifest.csv).")
    sec.table(
        ["Class"] + [s.capitalize() for s in SPLITS] + ["Total"],
        [
            [LABEL_NAMES[l]] + [counts[(l, s)] for s in SPLITS] + [sum(counts[(l, s)] for s in SPLITS)]
            for l in LABELS
        ],
    )
    sec.table(
        ["Task", "Train negatives", "Train positives (COVID-19)", "Skew (neg/pos)"],
        [[t, f"{n} {LABEL_NAMES[neg]}", p, s] for t, neg, n, p, s in skews],
    )
    if other:
        sec.text(f"{other} manifest row(s) have a label or split outside {LABELS} x {SPLITS}; not counted.")


def translations_section(ctx, sec):
    tasks = [t for t, _ in TASKS]
    for rel in ctx.inputs.glob("synthetic/*/manifest.csv"):
        t = rel.split("/")[1]
        if t not in tasks:
            tasks.append(t)
    for task in tasks:
        panel = f"Fig. 1 translations ({task})"
        rel = f"synthetic/{task}/manifest.csv"
        rows = ctx.inputs.csv(rel, panel, required=("source_id", "path"))
        if rows is None:
            continue
        if ctx.manifest is None:
            ctx.inputs.note_missing(panel, "data/manifest.csv", "missing or unreadable (source images)")
            continue
        _fig1(ctx, sec, task, rows, panel)


def _fig1(ctx, sec, task, rows, panel):
    inputs = ctx.inputs
    usable = [r for r in rows if r["source_id"] in ctx.manifest]
    if not usable:
        inputs.note_missing(panel, "data/manifest.csv", f"none of the {len(rows)} source_id values is listed")
        return
    # Evenly spaced rows: deterministic and not only the first few sources.
    n = min(EXAMPLES_PER_TASK, len(usable))
    picks = [usable[(i * len(usable)) // n] for i in range(n)]
    pairs = []
    for r in picks:
        src = ctx.manifest[r["source_id"]]
        src_rel = f"data/{src['path']}"
        out_rel = f"synthetic/{task}/{r['path']}"
        a = inputs.file(src_rel, panel)
        b = inputs.file(out_rel, panel)
        if a is None or b is None:
            continue
        bd = to_float(src.get("bit_depth"))
        pairs.append((r, src, load_gray(a, int(bd) if bd == bd else None), load_gray(b)))
    if not pairs:
        return
    # Third column: translation - source (same size only), so a generator that stayed at the
    # identity, or edits outside the lungs, are visible at a glance.
    fig, axes = plt.subplots(len(pairs), 3, figsize=(8.4, 2.8 * len(pairs)), squeeze=False)
    for i, (r, src, a, b) in enumerate(pairs):
        for ax, img, title in (
            (axes[i][0], a, f"source: {LABEL_NAMES.get(src['label'], src['label'])}\n{src['id']}"),
            (axes[i][1], b, f"translated -> COVID-19\n{r.get('id', '')}"),
        ):
            ax.imshow(img, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(title, fontsize=8)
            ax.axis("off")
        ax = axes[i][2]
        ax.axis("off")
        if a.shape == b.shape:
            d = b - a
            ax.imshow(d, cmap="RdBu_r", vmin=-0.5, vmax=0.5, interpolation="nearest")
            ax.set_title(f"translated - source\nmean |diff| {abs(d).mean():.3f}", fontsize=8)
        else:
            ax.set_title(f"sizes differ: {a.shape} vs {b.shape}", fontsize=8)
    fig.suptitle(f"Fig. 1: {task}: source | translation", fontsize=10)
    fig.tight_layout()
    path = save(fig, ctx.figdir, f"fig1_translation_{task}")
    directions = sorted({r.get("direction", "") for r, *_ in pairs} - {""})
    sec.figure(
        path,
        f"Fig. 1 ({task}): {len(pairs)} of {len(rows)} synthetic images next to their sources and "
        "the difference (red: brighter, blue: darker, in [0, 1] intensity units)"
        + (f" (direction {', '.join(directions)})" if directions else "")
        + f"; from synthetic/{task}/manifest.csv.",
    )
