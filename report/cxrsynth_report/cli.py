"""Entry point: `python3 -m cxrsynth_report --run-dir R`. Exit 0 ok, 1 error, 2 usage."""
import argparse
import shutil
import sys
from pathlib import Path

from . import deps


class Ctx:
    def __init__(self, inputs, outdir):
        self.inputs = inputs
        self.outdir = outdir
        self.figdir = outdir / "figures"
        self.manifest = None


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="cxrsynth_report",
        description="Write R/report/index.html, report.md and figures/*.png from a run directory.",
    )
    ap.add_argument("--run-dir", required=True, help="the run directory R")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    root = Path(args.run_dir)
    if not root.is_dir():
        print(f"error: run directory '{root}' does not exist or is not a directory", file=sys.stderr)
        return 2
    try:
        deps.check_all()
    except deps.MissingPackage as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        out = build(root)
    except deps.MissingPackage as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"error: while writing the report in {root / 'report'}: {e}", file=sys.stderr)
        return 1
    print(f"report: {out / 'index.html'}")
    return 0


def build(root):
    from .build import render

    final = root / "report"
    stage = root / ".report.tmp"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "figures").mkdir(parents=True)
    try:
        render(root, stage)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    # Replace the previous report as a whole, so no stale figure survives.
    old = root / ".report.old"
    if old.exists():
        shutil.rmtree(old)
    if final.exists():
        final.rename(old)
    stage.rename(final)
    if old.exists():
        shutil.rmtree(old)
    return final
