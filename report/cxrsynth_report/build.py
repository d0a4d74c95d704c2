"""Assembles the report: sections in paper order, the "Missing inputs" list, the inputs used."""
from . import doc, figs_audit, figs_data, figs_eval, figs_gan, tables
from .inputs import TASK_NAMES, Inputs


def render(root, outdir):
    from .cli import Ctx

    ctx = Ctx(Inputs(root), outdir)
    missing = doc.Section("Missing inputs", "missing")
    data = doc.Section("Data: class counts per split (Fig. 3)", "data")
    fig1 = doc.Section("Translations: source | synthetic COVID-19 (Fig. 1)", "fig1")
    gan = doc.Section("CycleGAN training", "gan")
    tabs = doc.Section("Experiment tables", "tables")
    metrics = doc.Section("Metrics per classifier", "metrics")
    conf = doc.Section("Confidence on COVID-19 test cases (Figs. 4-7)", "confidence")
    roc = doc.Section("ROC curves", "roc")
    hist = doc.Section("Classifier training histories", "history")
    umap = doc.Section("Feature embedding (Fig. 8)", "umap")
    used = doc.Section("Inputs read", "inputs")

    figs_data.data_section(ctx, data)
    figs_data.translations_section(ctx, fig1)
    figs_gan.gan_section(ctx, gan)
    tables.experiment_section(ctx, tabs)
    runs = figs_eval.discover(ctx.inputs)
    if not runs:
        for panel in ("Figs. 4-7 confidence", "ROC curves", "Metrics table", "Fig. 8 UMAP"):
            ctx.inputs.note_missing(panel, "eval/**/predictions.csv", "missing (no file found)")
        if not ctx.inputs.glob("classifiers/**/history.csv"):
            ctx.inputs.note_missing("Classifier histories", "classifiers/**/history.csv", "missing (no file found)")
    else:
        # The paper evaluates both tasks: a task with no eval run at all is a missing input too.
        tasks = {r.task for r in runs}
        if tasks - {""}:
            for t in TASK_NAMES:
                if t not in tasks:
                    ctx.inputs.note_missing(
                        f"Figs. 4-7, ROC, metrics, Fig. 8 ({t})", f"eval/{t}/**/predictions.csv", "missing (no file found)"
                    )
    runs = figs_eval.load_predictions(ctx, runs)
    tables.metrics_section(ctx, metrics, runs)
    figs_eval.confidence_section(ctx, conf, runs)
    figs_eval.roc_section(ctx, roc, runs)
    figs_eval.history_section(ctx, hist, runs)
    figs_eval.umap_section(ctx, umap, runs)

    body = [data, fig1, gan, tabs, metrics, conf, roc, hist, umap]
    audit = doc.Section("Audit of the synthetic sets: memorization, PHI, FID/KID", "audit")
    if figs_audit.audit_section(ctx, audit):  # only when R/audit exists (cxrsynth audit)
        body.append(audit)
    for s in body:
        if not s.blocks:
            s.text("Nothing drawn: the inputs are listed under Missing inputs.")
    if ctx.inputs.missing:
        missing.text(
            f"{len(ctx.inputs.missing)} panel input(s) are missing or unreadable; those panels are "
            "not drawn. A stage that has not run leaves its files absent."
        )
        missing.missing(ctx.inputs.missing)
    else:
        missing.text("None: every panel was drawn.")
    used.table(
        ["File", "Bytes", "SHA-256"],
        [[rel, n, h] for rel, (n, h) in sorted(ctx.inputs.used.items())],
    )
    sections = [missing] + body + [used]
    title = f"cxrsynth report: {root.resolve().name}"
    (outdir / "report.md").write_text(doc.write_markdown(title, sections), encoding="utf-8")
    (outdir / "index.html").write_text(doc.write_html(title, sections), encoding="utf-8")
