"""CycleGAN training: loss curves per task and the latest sample grid."""
import shutil

from .inputs import TASK_NAMES, natural_key, numeric_columns, slug, to_float
from .plot import grid, plain_numbers, plt, save

NOT_PLOTTED = ("epoch", "step", "time_s", "time", "iteration")


def gan_section(ctx, sec):
    tasks = list(TASK_NAMES)
    for rel in ctx.inputs.glob("gan/*/losses.csv") + ctx.inputs.glob("gan/*/samples/*.png"):
        t = rel.split("/")[1]
        if t not in tasks:
            tasks.append(t)
    for task in tasks:
        _losses(ctx, sec, task)
        _samples(ctx, sec, task)
        _summary(ctx, sec, task)


def _summary(ctx, sec, task):
    """gan/<task>/summary.json when the trainer wrote one: its warnings (e.g. a generator that
    stayed at the identity) in plain text, then the whole file."""
    import json

    rel = f"gan/{task}/summary.json"
    if not ctx.inputs.exists(rel):
        return
    s = ctx.inputs.json(rel, f"GAN summary ({task})")
    if s is None:
        return
    for w in (s.get("warnings") or []) if isinstance(s, dict) else []:
        sec.text(f"WARNING from the GAN trainer ({task}): {w}")
    sec.text(f"{rel}, as written:")
    sec.pre(json.dumps(s, indent=2))


def _losses(ctx, sec, task):
    import numpy as np

    panel = f"GAN loss curves ({task})"
    rel = f"gan/{task}/losses.csv"
    rows = ctx.inputs.csv(rel, panel, required=("step",))
    if rows is None:
        return
    cols = numeric_columns(rows, exclude=NOT_PLOTTED)
    if not rows or not cols:
        ctx.inputs.note_missing(panel, rel, "unreadable: no rows or no numeric loss columns")
        return
    step = np.array([to_float(r["step"]) for r in rows])
    fig, axes = grid(len(cols), ncols=4, w=3.6, h=2.6)
    for ax, c in zip(axes, cols):
        y = np.array([to_float(r[c]) for r in rows])
        smooth = len(y) > 50 and c != "lr"
        ax.plot(step, y, lw=0.6 if smooth else 1.2, alpha=0.35 if smooth else 1.0, color="#1f77b4")
        if smooth:
            k = max(2, len(y) // 50)
            ok = np.isfinite(y)
            if ok.sum() > k:
                sm = np.convolve(y[ok], np.ones(k) / k, mode="valid")
                ax.plot(step[ok][k - 1 :], sm, lw=1.3, color="#d62728", label=f"mean of {k}")
                ax.legend(loc="upper right")
        ax.set_title(c)
        ax.set_xlabel("step")
        plain_numbers(ax)
    fig.suptitle(f"CycleGAN losses, {task}", fontsize=11)
    fig.tight_layout()
    path = save(fig, ctx.figdir, slug("gan_losses", task))
    sec.figure(path, f"GAN training curves ({task}): every numeric column of {rel} against step.")


def _samples(ctx, sec, task):
    panel = f"GAN sample grid ({task})"
    found = ctx.inputs.glob(f"gan/{task}/samples/*.png")
    if not found:
        ctx.inputs.note_missing(panel, f"gan/{task}/samples/*.png", "missing (no PNG found)")
        return
    latest = sorted(found, key=lambda p: natural_key(p.rsplit("/", 1)[1]))[-1]
    src = ctx.inputs.file(latest, panel)
    name = slug("gan_samples", task) + ".png"
    shutil.copyfile(src, ctx.figdir / name)
    sec.figure(f"figures/{name}", f"Latest GAN sample grid ({task}), copied from {latest}.")
