"""Tables: the experiment's paper-layout tables (verbatim) and each eval run's metrics.json."""

# The paper's measures first (sec. 4: sensitivity and false negatives), then the rest.
MAIN = ["sensitivity", "specificity", "tp", "fn", "fp", "tn", "roc_auc"]
COUNTS = {"tp", "fn", "fp", "tn", "n", "n_images", "n_positive", "n_negative", "n_patients"}
LOW = ("ci_lo", "ci_low", "low", "lo", "lower")
HIGH = ("ci_hi", "ci_high", "high", "hi", "upper")


def _num(v, count):
    if count and float(v).is_integer():
        return str(int(v))
    return f"{v:.3f}"


def metric_cell(v, count=False):
    """A metric as text: '0.812 [0.701, 0.893]' for an interval, the number otherwise, 'n/a'
    for null; None when the value is neither a number nor an interval object."""
    if isinstance(v, bool):
        return None
    if v is None:
        return "n/a"
    if isinstance(v, (int, float)):
        return _num(v, count or isinstance(v, int))
    if isinstance(v, dict) and "value" in v:
        base = metric_cell(v["value"], count)
        if base is None:
            return None
        lo = next((v[k] for k in LOW if k in v), None)
        hi = next((v[k] for k in HIGH if k in v), None)
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)):
            return f"{base} [{_num(lo, count)}, {_num(hi, count)}]"
        return base
    return None


def _fmt(v):
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def operating_points(m):
    """[(label, {metric: value})]: cxrsynth.metrics/1 (at_threshold / at_fixed_specificity,
    each with a `metrics` object) or a flat object of metrics; plus notes on points not given."""
    points, notes = [], []
    at = m.get("at_threshold")
    if isinstance(at, dict) and isinstance(at.get("metrics"), dict):
        points.append((f"threshold {_fmt(at.get('threshold'))}", at["metrics"]))
        fs = m.get("at_fixed_specificity")
        if isinstance(fs, dict):
            target = _fmt(fs.get("target_specificity"))
            if isinstance(fs.get("metrics"), dict):
                points.append(
                    (
                        f"specificity >= {target} (threshold {_fmt(fs.get('threshold'))}"
                        f" from {fs.get('threshold_source', '?')})",
                        fs["metrics"],
                    )
                )
            else:
                notes.append(f"specificity >= {target}: {fs.get('reason', 'no operating point')}")
    else:
        points.append(("as written", m))
    return points, notes


def metrics_section(ctx, sec, runs):
    rows = []  # (run, point label, metrics)
    notes = []
    for r in runs:
        panel = f"Metrics table row ({r.name})"
        m = ctx.inputs.json(f"{r.dir}/metrics.json", panel)
        if m is None:
            continue
        if not isinstance(m, dict):
            ctx.inputs.note_missing(panel, f"{r.dir}/metrics.json", "unreadable: not a JSON object")
            continue
        points, n = operating_points(m)
        rows += [(r, label, pm) for label, pm in points]
        notes += [f"{r.name}: {x}" for x in n]
    if not rows:
        return
    sec.text(
        "From each eval run's metrics.json: value [interval low, high] as written by the "
        "evaluation stage (cxrsynth: patient-level bootstrap); n/a = undefined; empty = absent."
    )
    main = [k for k in MAIN if any(metric_cell(pm.get(k), k in COUNTS) is not None for _, _, pm in rows)]
    other = []
    for _, _, pm in rows:
        other += [k for k in pm if k not in main and k not in other and metric_cell(pm[k], k in COUNTS) is not None]
    head = ["Task", "Configuration", "Model", "Operating point"]
    for keys in (main, other):
        if keys:
            sec.table(
                head + keys,
                [
                    [r.task or "-", r.config, r.arch, label]
                    + [(metric_cell(pm[k], k in COUNTS) or "") if k in pm else "" for k in keys]
                    for r, label, pm in rows
                ],
            )
    for n in notes:
        sec.text(n)


def experiment_section(ctx, sec):
    md = ctx.inputs.text("experiment/tables.md", "Experiment tables (Tables 1-2)")
    if md is None:
        return
    sec.text("experiment/tables.md, included verbatim:")
    sec.markdown(md)
    for extra in ("experiment/tables.csv", "experiment/tables.json"):
        if ctx.inputs.exists(extra):
            sec.text(f"Also in the run: {extra}.")
