"""The audit section (R/audit/<task>/, written by `cxrsynth audit`; docs/AUDIT.md): distance
histograms against the real-vs-real baseline with the memorization threshold, the closest
synthetic / COVID-19-training pairs side by side, FID and KID with their intervals, the PHI
verdict. Drawn only when R/audit exists."""
from .inputs import natural_key, slug, to_float
from .plot import grid, load_gray, plain_numbers, plt, save

SPACES = [("pixel", "pixel space (z-normalised thumbnails)"), ("feature", "classifier feature space")]


def audit_section(ctx, sec):
    """Fills `sec`; returns False (drawing nothing) when the run has no audit."""
    root = ctx.inputs.root / "audit"
    if not root.is_dir():
        return False
    tasks = sorted((p.name for p in root.iterdir() if (p / "audit.json").is_file()), key=natural_key)
    if not tasks:
        ctx.inputs.note_missing("Audit", "audit/<task>/audit.json", "missing (no file found)")
        return True
    audits = {}
    for task in tasks:
        a = ctx.inputs.json(f"audit/{task}/audit.json", f"Audit ({task})")
        if isinstance(a, dict):
            audits[task] = a
    if not audits:
        return True
    first = next(iter(audits.values()))
    sec.text(first.get("memorization", {}).get("note", ""))
    fk = first.get("fid_kid") or {}
    if fk.get("feature_space"):
        sec.text("FID/KID feature space: " + fk["feature_space"])
    if fk.get("reference_note"):
        sec.text(fk["reference_note"])
    _summary_table(sec, audits)
    for task, a in audits.items():
        for w in a.get("warnings") or []:
            sec.text(f"WARNING ({task}): {w}")
    _fid_kid_figure(ctx, sec, audits)
    for task, a in audits.items():
        _histograms(ctx, sec, task, a)
        _pairs(ctx, sec, task, a)
        _phi_failures(ctx, sec, task)
    return True


def _ci(d, fmt="{:.4g}"):
    if not isinstance(d, dict) or d.get("value") is None:
        return "-"
    lo, hi = d.get("ci_lo"), d.get("ci_hi")
    if lo is None or hi is None:
        return fmt.format(d["value"])
    return f"{fmt.format(d['value'])} [{fmt.format(lo)}, {fmt.format(hi)}]"


def _summary_table(sec, audits):
    rows = []
    for task, a in audits.items():
        m = a.get("memorization") or {}
        px = m.get("pixel") or {}
        fe = m.get("feature") or {}
        c = a.get("counts") or {}
        fk = (a.get("fid_kid") or {}).get("synthetic_vs_real_test") or {}
        ref = (a.get("fid_kid") or {}).get("real_train_vs_real_test") or {}
        phi = a.get("phi") or {}
        rows.append(
            [
                task,
                c.get("synthetic", "-"),
                f"{m.get('flagged', '-')} ({m.get('flag_rule', '-')})",
                f"{px.get('flagged', '-')} / {fe.get('flagged', '-') if fe else '-'}",
                "pass" if phi.get("passed") else f"FAIL ({phi.get('failures', '?')})",
                _ci(fk.get("fid")),
                _ci(fk.get("kid"), "{:.3g}"),
                _ci(ref.get("fid")),
                _ci(ref.get("kid"), "{:.3g}"),
            ]
        )
    sec.table(
        [
            "Task",
            "Synthetic",
            "Possible memorization (rule)",
            "Under threshold: pixel / feature",
            "PHI",
            "FID synthetic vs real test",
            "KID synthetic vs real test",
            "FID real train vs test",
            "KID real train vs test",
        ],
        rows,
    )


def _fid_kid_figure(ctx, sec, audits):
    import numpy as np

    have = {t: a["fid_kid"] for t, a in audits.items() if isinstance(a.get("fid_kid"), dict)}
    if not have:
        return
    fig, axes = grid(2, ncols=2, w=4.8, h=3.2)
    for ax, metric in zip(axes, ("fid", "kid")):
        for k, (key, label, color) in enumerate(
            [
                ("synthetic_vs_real_test", "synthetic vs real COVID-19 test", "#ff7f0e"),
                ("real_train_vs_real_test", "real COVID-19 train vs test (reference)", "#1f77b4"),
            ]
        ):
            x, y, lo, hi = [], [], [], []
            for i, (task, fk) in enumerate(have.items()):
                d = (fk.get(key) or {}).get(metric) or {}
                if d.get("value") is None:
                    continue
                x.append(i + (k - 0.5) * 0.25)
                y.append(d["value"])
                lo.append(d["value"] - (d.get("ci_lo") if d.get("ci_lo") is not None else d["value"]))
                hi.append((d.get("ci_hi") if d.get("ci_hi") is not None else d["value"]) - d["value"])
            if x:
                err = np.maximum(0.0, np.array([lo, hi]))
                ax.errorbar(x, y, yerr=err, fmt="o", capsize=4, color=color, label=label)
        ax.set_xticks(range(len(have)))
        ax.set_xticklabels(list(have.keys()))
        ax.set_xlim(-0.6, len(have) - 0.4)
        ax.set_title(metric.upper() + " (bars: bootstrap interval)")
        plain_numbers(ax)
    first = next(iter(have.values())).get("synthetic_vs_real_test") or {}
    level = first.get("level", 0.95)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2)
    fig.tight_layout()
    path = save(fig, ctx.figdir, "audit_fid_kid")
    sec.figure(
        path,
        f"FID and KID on the run classifier's pooled features (not Inception; not comparable to "
        f"published FIDs), with {100 * level:.0f}% patient-level bootstrap intervals. The reference "
        "(real COVID-19 training vs test images) gives a rough scale of what real images of other "
        "patients score; the classifier was trained on those training images, so it can overstate it.",
    )


def _histograms(ctx, sec, task, a):
    import numpy as np

    panel = f"Audit distance histograms ({task})"
    near = ctx.inputs.csv(f"audit/{task}/nearest.csv", panel, required=("pixel_target_distance",))
    base = ctx.inputs.csv(f"audit/{task}/baseline.csv", panel, required=("pixel_distance",))
    if near is None or base is None:
        return
    mem = a.get("memorization") or {}
    spaces = [(s, t) for s, t in SPACES if mem.get(s)]
    fig, axes = grid(len(spaces), ncols=2, w=4.8, h=3.2)
    for ax, (space, title) in zip(axes, spaces):
        series = [
            ("real vs real: COVID-19 train, nearest other patient", [to_float(r[f"{space}_distance"]) for r in base], "#1f77b4"),
            ("synthetic -> nearest COVID-19 train", [to_float(r[f"{space}_target_distance"]) for r in near], "#d62728"),
            ("synthetic -> own source image", [to_float(r[f"{space}_own_source_distance"]) for r in near], "#2ca02c"),
        ]
        vals = np.concatenate([np.array(v) for _, v, _ in series])
        vals = vals[np.isfinite(vals)]
        if not len(vals):
            ax.set_visible(False)
            continue
        bins = np.linspace(0, float(vals.max()) * 1.02 + 1e-12, 40)
        for label, v, color in series:
            v = np.array(v)
            v = v[np.isfinite(v)]
            if len(v):
                ax.hist(v, bins=bins, density=True, alpha=0.45, color=color, label=f"{label} (n={len(v)})")
        thr = (mem.get(space) or {}).get("threshold")
        if thr is not None:
            ax.axvline(thr, color="k", ls="--", lw=1.2, label=f"threshold ({mem.get('baseline_percentile')}th pct of baseline)")
        ax.set_title(f"{task}: {title}")
        ax.set_xlabel("distance")
        ax.set_ylabel("density")
    from .plot import legend_below

    legend_below(fig, axes)
    fig.tight_layout()
    path = save(fig, ctx.figdir, slug("audit_distances", task))
    sec.figure(
        path,
        f"Nearest-neighbour distances ({task}). Synthetic images left of the dashed threshold are "
        "closer to a COVID-19 training image than real images of distinct patients are to each "
        "other (possible memorization). Closeness to the own source image is expected for a CycleGAN.",
    )


def _pairs(ctx, sec, task, a):
    pairs = (a.get("memorization") or {}).get("closest_pairs") or []
    pairs = pairs[:8]
    if not pairs:
        return
    panel = f"Audit closest pairs ({task})"
    fig, axes = grid(2 * len(pairs), ncols=4, w=2.3, h=2.5)
    for k, p in enumerate(pairs):
        for j, (key, who) in enumerate((("synthetic_path", p.get("synthetic_id")), ("target_path", p.get("target_id")))):
            ax = axes[2 * k + j]
            path = ctx.inputs.file(p.get(key, ""), panel) if p.get(key) else None
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            if path is None:
                ax.text(0.5, 0.5, "missing", ha="center", va="center")
            else:
                ax.imshow(load_gray(path), cmap="gray", vmin=0, vmax=1)
            flag = " FLAGGED" if p.get("possible_memorization") else ""
            if j == 0:
                d = p.get("pixel_distance")
                ax.set_title(f"synthetic {who}\npixel d={d:.3g}{flag}" if d is not None else who, fontsize=8,
                             color="#d62728" if flag else "black")
            else:
                ax.set_title(f"COVID-19 train {who}", fontsize=8)
    fig.suptitle(f"{task}: flagged pairs first, then the synthetic images closest to a COVID-19 training image", fontsize=10)
    fig.tight_layout()
    path = save(fig, ctx.figdir, slug("audit_pairs", task))
    sec.figure(
        path,
        f"Synthetic / nearest COVID-19-training pairs in pixel space ({task}): flagged pairs first "
        "(FLAGGED: under the thresholds of audit.json's flag rule), then the closest others; left: "
        "synthetic, right: its nearest COVID-19 training image. Judge by eye whether a pair is a copy.",
    )


def _phi_failures(ctx, sec, task):
    rows = ctx.inputs.csv(f"audit/{task}/phi.csv", f"Audit PHI ({task})", required=("item", "status"))
    if rows is None:
        return
    fails = [r for r in rows if r["status"] == "fail"]
    notes = [r for r in rows if r["status"] == "note"]
    if not fails:
        sec.text(
            f"PHI check ({task}): pass: {len(rows) - len(notes)} item(s) checked, none failed; "
            f"{len(notes)} note(s) (provenance columns and files that must stay with the run)."
        )
        return
    sec.text(f"PHI check ({task}): FAIL on {len(fails)} item(s) (first 20 below; all in audit/{task}/phi.csv).")
    sec.table(["Item", "Check", "Detail"], [[r["item"], r["check"], r["detail"]] for r in fails[:20]])
