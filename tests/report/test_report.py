"""Report renderer tests, run by CTest with /usr/bin/python3 (exit 77 = skipped).

  test_report.py full --cli BIN      fake run with every input, rendered through `BIN report`;
                                     every figure referenced by index.html exists and is a
                                     non-trivial PNG; no Missing inputs; a second render is
                                     byte-identical; CLI errors (bad run dir, bad python) map to
                                     exit 2 / 1 with a message.
  test_report.py missing             run with inputs left out: "Missing inputs" lists each.
  test_report.py chromium            headless Chromium screenshot of index.html is not blank.
"""
import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77
HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REPORT_DIR = REPO / "report"


def skip(msg):
    print(f"SKIP: {msg}")
    sys.exit(SKIP)


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def need_modules():
    for m, pkg in (("numpy", "python3-numpy"), ("matplotlib", "python3-matplotlib"), ("PIL", "python3-pil"), ("umap", "umap-learn")):
        import importlib.util

        if importlib.util.find_spec(m) is None:  # not imported: umap's import alone takes seconds
            skip(f"Python module {m} missing (Debian package {pkg})")


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPORT_DIR) + (":" + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    return e


def render(run, cli=None, extra_env=None):
    cmd = [cli, "report", "--run-dir", str(run)] if cli else [sys.executable, "-m", "cxrsynth_report", "--run-dir", str(run)]
    e = env()
    e.update(extra_env or {})
    return subprocess.run(cmd, env=e, capture_output=True, text=True)


def check_rendered(run):
    p = render_ok(run)
    return p


def render_ok(run, cli=None):
    r = render(run, cli)
    if r.returncode != 0:
        fail(f"render exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}")
    return Path(run) / "report"


def figures_in(html):
    return re.findall(r'<img src="([^"]+)"', html)


def check_png(path):
    import numpy as np
    from PIL import Image

    if not path.is_file():
        fail(f"{path} referenced by index.html does not exist")
    if path.stat().st_size < 2000:
        fail(f"{path} is only {path.stat().st_size} bytes")
    with Image.open(path) as im:
        if im.format != "PNG":
            fail(f"{path} is {im.format}, not PNG")
        a = np.asarray(im.convert("L"), dtype=float)
    if a.shape[0] < 32 or a.shape[1] < 32 or a.std() < 1.0:
        fail(f"{path}: {a.shape} pixels, std {a.std():.2f}: blank or tiny")


def digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def missing_section(html):
    m = re.search(r'<h2 id="missing">.*?(?=<h2 )', html, re.S)
    if not m:
        fail("index.html has no Missing inputs section")
    return m.group(0)


def test_full(tmp, cli):
    import fake_run

    run = fake_run.make(tmp / "run")
    out = render_ok(run, cli)
    html = (out / "index.html").read_text()
    md = (out / "report.md").read_text()
    figs = figures_in(html)
    if len(figs) < 10:
        fail(f"only {len(figs)} figures in index.html: {figs}")
    for f in figs:
        check_png(out / f)
        if f"]({f})" not in md:
            fail(f"report.md does not reference {f}")
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "figures").glob("*.png"))
    if sorted(figs) != on_disk:
        fail(f"figures on disk {on_disk} != referenced {sorted(figs)}")
    for want in ("fig1_translation_normal-vs-covid", "fig1_translation_pneumonia-vs-covid", "fig3_class_counts",
                 "fig4-7_confidence_normal-vs-covid_vgg16", "fig8_umap_normal-vs-covid_real_vgg16",
                 "gan_losses_normal-vs-covid", "gan_samples_pneumonia-vs-covid", "roc_normal-vs-covid_vgg16",
                 "history_normal-vs-covid_vgg16"):
        if f"figures/{want}.png" not in figs:
            fail(f"figure {want}.png not in index.html")
    if "None: every panel was drawn." not in missing_section(html):
        fail("Missing inputs section not empty for a complete run:\n" + missing_section(html))
    for text in ("Table 1: normal-vs-covid", "0.500 [0.1, 0.9]", "[0.100, 0.900]", "3.00", "threshold 0.5",
                 "no negatives in the validation predictions", "[1, 6]"):
        if text not in html or text not in md:
            fail(f"'{text}' not in index.html and report.md")
    if "<li>VGG-16 / Real+G_NC: higher, intervals overlap</li>" not in html:
        fail("the experiment tables' bullet list is not rendered")
    if re.search(r'(src|href)="(https?:)?//', html):
        fail("index.html references the network")
    first = digest(out)
    render_ok(run, cli)
    if digest(out) != first:
        fail("a second render of the same inputs is not byte-identical")
    if list(run.glob(".report*")):
        fail("staging folder left behind")
    if cli:
        r = render(tmp / "no-such-run", cli)
        if r.returncode != 2 or "no such directory" not in r.stderr:
            fail(f"missing run dir: exit {r.returncode}, stderr {r.stderr!r}")
        r = render(run, cli, {"CXRSYNTH_PYTHON": str(tmp / "no-python")})
        if r.returncode != 1 or "CXRSYNTH_PYTHON" not in r.stderr:
            fail(f"bad CXRSYNTH_PYTHON: exit {r.returncode}, stderr {r.stderr!r}")
        r = render(run, cli, {"CXRSYNTH_REPORT_DIR": str(tmp)})
        if r.returncode != 1 or "CXRSYNTH_REPORT_DIR" not in r.stderr:
            fail(f"bad CXRSYNTH_REPORT_DIR: exit {r.returncode}, stderr {r.stderr!r}")
        # The renderer's own failure propagates: python that exits 1 with a message.
        r = render(run, cli, {"CXRSYNTH_PYTHON": "/bin/false"})
        if r.returncode != 1 or "exit status 1" not in r.stderr:
            fail(f"failing renderer: exit {r.returncode}, stderr {r.stderr!r}")
    print(f"ok: {len(figs)} figures")


def test_missing(tmp):
    import fake_run

    skipped = [
        "data/summary.json",
        "gan/pneumonia-vs-covid",
        "synthetic/normal-vs-covid",
        "eval/normal-vs-covid/real/vgg16/features.csv",
        "real-only-features",
        "eval/normal-vs-covid/real+gnc+gpc/vgg16/metrics.json",
        "classifiers/normal-vs-covid/real/vgg16",
        "experiment",
    ]
    run = fake_run.make(tmp / "run", skip=skipped)
    # An unreadable file is listed too, with the reason.
    (run / "gan/normal-vs-covid/losses.csv").write_text("epoch,loss_g\n1,2\n")
    out = render_ok(run)
    html = (out / "index.html").read_text()
    sec = missing_section(html)
    expect = [
        ("Data summary (as written by the data stage)", "data/summary.json"),
        ("GAN loss curves (pneumonia-vs-covid)", "gan/pneumonia-vs-covid/losses.csv"),
        ("GAN sample grid (pneumonia-vs-covid)", "gan/pneumonia-vs-covid/samples/*.png"),
        ("GAN loss curves (normal-vs-covid)", "gan/normal-vs-covid/losses.csv"),
        ("Fig. 1 translations (normal-vs-covid)", "synthetic/normal-vs-covid/manifest.csv"),
        ("Fig. 8 UMAP (normal-vs-covid/real/vgg16)", "eval/normal-vs-covid/real/vgg16/features.csv"),
        ("Fig. 8 synthetic groups (pneumonia-vs-covid/real/vgg16)", "eval/pneumonia-vs-covid/real/vgg16/features.csv"),
        ("Metrics table row (normal-vs-covid/real+gnc+gpc/vgg16)", "eval/normal-vs-covid/real+gnc+gpc/vgg16/metrics.json"),
        ("Classifier history (normal-vs-covid/real/vgg16)", "classifiers/normal-vs-covid/real/vgg16/history.csv"),
        ("Experiment tables (Tables 1-2)", "experiment/tables.md"),
    ]
    import html as h

    for panel, rel in expect:
        row = f"<td>{h.escape(panel)}</td><td>{h.escape(rel)}</td>"
        if row not in sec:
            fail(f"Missing inputs lacks {panel} / {rel}:\n{sec}")
    if "column(s) step absent" not in sec:
        fail("the unreadable losses.csv is not explained")
    md = (out / "report.md").read_text()
    if "experiment/tables.md" not in md or "## Missing inputs" not in md:
        fail("report.md lacks the Missing inputs list")
    for f in figures_in(html):
        check_png(out / f)
    for f in ("fig8_umap_normal-vs-covid_real+gnc+gpc_vgg16", "fig8_umap_pneumonia-vs-covid_real_vgg16"):
        if f"figures/{f}.png" not in html:
            fail(f"the UMAP whose features exist was dropped: {f}")
    # A module that cannot be imported is an error naming the Debian package; the previous
    # report stays as it was and no staging folder is left.
    before = digest(out)
    block = tmp / "block"
    block.mkdir()
    (block / "umap.py").write_text("raise ImportError('blocked by the test')\n")
    r = render(run, extra_env={"PYTHONPATH": f"{block}:{REPORT_DIR}"})
    if r.returncode != 1 or "umap-learn" not in r.stderr:
        fail(f"blocked umap: exit {r.returncode}, stderr {r.stderr!r}")
    if digest(out) != before or list(run.glob(".report*")):
        fail("a failed render changed the previous report or left a staging folder")
    # Nothing at all: every panel family is listed, still exit 0.
    empty = tmp / "empty"
    empty.mkdir()
    out = render_ok(empty)
    sec = missing_section((out / "index.html").read_text())
    for rel in ("data/manifest.csv", "eval/**/predictions.csv", "classifiers/**/history.csv",
                "gan/normal-vs-covid/losses.csv", "synthetic/pneumonia-vs-covid/manifest.csv"):
        if f"<td>{h.escape(rel)}</td>" not in sec:
            fail(f"empty run: {rel} not listed:\n{sec}")
    print("ok")


def test_chromium(tmp):
    import numpy as np
    from PIL import Image

    chromium = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if not chromium:
        skip("chromium not installed (Debian package chromium)")
    import fake_run

    # Features left out: UMAP fits are slow and not what this test is about.
    run = fake_run.make(tmp / "run", skip=[f"eval/{t}/{c}/vgg16/features.csv" for t in fake_run.TASK_NAMES for c in fake_run.CONFIGS])
    out = render_ok(run)
    html = (out / "index.html").read_text()
    for f in figures_in(html):
        check_png(out / f)
    shot = tmp / "shot.png"
    profile = tempfile.mkdtemp(dir=tmp)
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--screenshot={shot}",
           "--window-size=1200,1600", (out / "index.html").as_uri()]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if not shot.is_file():
        fail(f"chromium wrote no screenshot (exit {r.returncode}): {r.stderr[-2000:]}")
    keep = os.environ.get("CXRSYNTH_KEEP_SCREENSHOT")
    if keep:
        shutil.copyfile(shot, keep)
    with Image.open(shot) as im:
        a = np.asarray(im.convert("RGB"), dtype=float)
    colours = len(np.unique(a.reshape(-1, 3), axis=0))
    if a.std() < 5.0 or colours < 50:
        fail(f"screenshot looks blank: std {a.std():.2f}, {colours} colours")
    # The top of the page shows the title and the figures below it: both halves have content.
    for half in (a[: a.shape[0] // 2], a[a.shape[0] // 2 :]):
        if half.std() < 2.0:
            fail("half of the screenshot is blank")
    print(f"ok: screenshot {a.shape[1]}x{a.shape[0]}, std {a.std():.1f}, {colours} colours")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("which", choices=["full", "missing", "chromium"])
    ap.add_argument("--cli", help="the cxrsynth binary (full: render through `cxrsynth report`)")
    args = ap.parse_args()
    need_modules()
    sys.path.insert(0, str(HERE))
    with tempfile.TemporaryDirectory(prefix="cxrsynth-report-") as d:
        tmp = Path(d)
        {"full": lambda: test_full(tmp, args.cli), "missing": lambda: test_missing(tmp),
         "chromium": lambda: test_chromium(tmp)}[args.which]()


if __name__ == "__main__":
    main()
