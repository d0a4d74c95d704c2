"""The report's audit section (report/cxrsynth_report/figs_audit.py), run by CTest with
/usr/bin/python3 (exit 77 = skipped): a run holding only R/audit/<task>/ (the files
`cxrsynth audit` writes) renders an "Audit" section with the FID/KID, distance-histogram and
closest-pair figures and the PHI failures; a run without R/audit has no such section."""
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

SKIP = 77
REPO = Path(__file__).resolve().parents[2]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def write_csv(path, header, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def fake_audit(run, task, rng):
    import numpy as np
    from PIL import Image

    d = run / "audit" / task
    imgs = run / "img"
    imgs.mkdir(parents=True, exist_ok=True)
    for name in ("syn", "cov"):
        Image.fromarray((rng.random((32, 32)) * 255).astype(np.uint8)).save(imgs / f"{name}.png")
    near = []
    for i in range(40):
        near.append([f"gnc-{i:06d}", f"src{i}", f"p{i}", "c0", 0.9 + 0.1 * rng.random(), f"src{i}", 0.2, 0.2, 1,
                     "c0", 2 + rng.random(), f"src{i}", 0.5, 0.5, 1, 0, 0, 0])
    write_csv(d / "nearest.csv", ["synthetic_id", "source_id", "source_patient_id", "pixel_target_id",
              "pixel_target_distance", "pixel_source_domain_id", "pixel_source_domain_distance",
              "pixel_own_source_distance", "pixel_nearest_is_own_source", "feature_target_id",
              "feature_target_distance", "feature_source_domain_id", "feature_source_domain_distance",
              "feature_own_source_distance", "feature_nearest_is_own_source", "pixel_flag", "feature_flag",
              "possible_memorization"], near)
    write_csv(d / "baseline.csv", ["id", "patient_id", "pixel_nearest_id", "pixel_distance", "feature_nearest_id",
              "feature_distance"], [[f"c{i}", f"q{i}", "c0", 0.7 + 0.3 * rng.random(), "c0", 1 + rng.random()]
                                    for i in range(20)])
    write_csv(d / "phi.csv", ["item", "check", "status", "detail"],
              [["images/gnc-000000.png", "image-metadata+name", "pass", ""],
               ["images/gnc-PH1.png", "image-metadata+name", "fail", "file name contains the identifier 'ph1'"]])
    ci = lambda v: {"value": v, "ci_lo": v * 0.8, "ci_hi": v * 1.3}
    fk = lambda f, k: {"fid": ci(f), "kid": ci(k), "n_x": 40, "n_y": 20, "level": 0.95, "warnings": []}
    pair = {"synthetic_id": "gnc-000000", "synthetic_path": "img/syn.png", "target_id": "c0",
            "target_path": "img/cov.png", "pixel_distance": 0.5, "feature_distance": 1.0,
            "possible_memorization": True}
    a = {
        "schema": "cxrsynth.audit/1", "task": task,
        "counts": {"synthetic": 40, "target_train": 20, "source_domain_train": 40, "target_test": 20},
        "memorization": {"note": "A CycleGAN output is expected to be close to its OWN source image.",
                         "baseline_percentile": 1.0, "flag_rule": "both", "flagged": 1,
                         "pixel": {"threshold": 0.72, "flagged": 2}, "feature": {"threshold": 1.05, "flagged": 3},
                         "closest_pairs": [pair, dict(pair, possible_memorization=False)]},
        "phi": {"passed": False, "files_checked": 2, "failures": 1, "notes": 0},
        "fid_kid": {"feature_space": "Pooled features ... not Inception-v3",
                    "synthetic_vs_real_test": fk(12.0, 0.05), "real_train_vs_real_test": fk(3.0, 0.01)},
        "warnings": ["FID/KID: small sample"],
    }
    (d / "audit.json").write_text(json.dumps(a, indent=2))


def render(run):
    e = dict(os.environ)
    e["PYTHONPATH"] = str(REPO / "report")
    e["PYTHONDONTWRITEBYTECODE"] = "1"
    r = subprocess.run([sys.executable, "-m", "cxrsynth_report", "--run-dir", str(run)], env=e,
                       capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"render exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}")
    return (run / "report" / "index.html").read_text()


def main():
    import importlib.util

    for m in ("numpy", "matplotlib", "PIL"):
        if importlib.util.find_spec(m) is None:
            print(f"SKIP: Python module {m} missing")
            sys.exit(SKIP)
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="cxrsynth-audit-report-") as t:
        run = Path(t) / "run"
        run.mkdir()
        html = render(run)
        if 'id="audit"' in html:
            fail("a run without R/audit has an Audit section")
        rng = np.random.default_rng(0)
        for task in ("normal-vs-covid", "pneumonia-vs-covid"):
            fake_audit(run, task, rng)
        html = render(run)
        m = re.search(r'<h2 id="audit">.*?(?=<h2 |\Z)', html, re.S)
        if not m:
            fail("no Audit section")
        sec = m.group(0)
        for fig in ("audit_fid_kid.png", "audit_distances_normal-vs-covid.png", "audit_pairs_pneumonia-vs-covid.png"):
            p = run / "report" / "figures" / fig
            if fig not in sec or not p.is_file() or p.stat().st_size < 2000:
                fail(f"figure {fig} missing from the Audit section or too small")
        for text in ("FAIL", "not Inception", "gnc-PH1.png", "small sample", "OWN source"):
            if text not in sec:
                fail(f"Audit section lacks '{text}'")
    print("ok")


if __name__ == "__main__":
    main()
