"""cxrsynth report renderer: figures, index.html and report.md from a run directory's files.

Run as `/usr/bin/python3 -m cxrsynth_report --run-dir R` with PYTHONPATH=<repo>/report, or
through `cxrsynth report --run-dir R`. Reads only files under R; writes only R/report/.
"""
