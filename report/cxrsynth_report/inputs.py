"""Reading the run directory: every file read is recorded; every missing or unreadable file is
recorded with the panel that could not be drawn because of it (the report's "Missing inputs")."""
import csv
import hashlib
import io
import json
import re
import sys
from pathlib import Path

# The paper's two tasks (sec. 3): domain A (negatives) -> COVID-19. Same names as src/data/tasks.h.
TASKS = [("normal-vs-covid", "normal"), ("pneumonia-vs-covid", "pneumonia")]
TASK_NAMES = [t for t, _ in TASKS]


class Unreadable(Exception):
    """A file that exists but does not have the expected content."""


class Inputs:
    def __init__(self, root):
        self.root = Path(root)
        self.missing = []  # (panel, relative path, reason)
        self.used = {}  # relative path -> (bytes, sha256)

    def rel(self, path):
        return Path(path).relative_to(self.root).as_posix()

    def exists(self, rel):
        return (self.root / rel).is_file()

    def glob(self, pattern):
        """Relative paths matching `pattern` under the run dir, sorted (deterministic)."""
        return sorted(self.rel(p) for p in self.root.glob(pattern) if p.is_file())

    def note_missing(self, panel, rel, reason="missing"):
        self.missing.append((panel, rel, reason))
        if reason.startswith("unreadable"):
            print(f"cxrsynth_report: warning: {panel}: {rel}: {reason}", file=sys.stderr)

    def _record(self, rel):
        data = (self.root / rel).read_bytes()
        self.used[rel] = (len(data), hashlib.sha256(data).hexdigest())
        return data

    def file(self, rel, panel):
        """The absolute path of `rel`, recorded as used; None (noted missing) when absent."""
        if not self.exists(rel):
            self.note_missing(panel, rel)
            return None
        self._record(rel)
        return self.root / rel

    def csv(self, rel, panel, required=()):
        """Rows (dicts) of a CSV with a header; None when missing or unreadable (noted)."""
        if not self.exists(rel):
            self.note_missing(panel, rel)
            return None
        try:
            text = self._record(rel).decode("utf-8")
            reader = csv.DictReader(io.StringIO(text, newline=""))
            header = reader.fieldnames or []
            absent = [c for c in required if c not in header]
            if absent:
                raise Unreadable(
                    f"column(s) {', '.join(absent)} absent; header is: {','.join(header)}"
                )
            rows = list(reader)
            for i, row in enumerate(rows):
                if None in row or any(v is None for v in row.values()):
                    raise Unreadable(f"row {i + 2} has {len(row)} cells, header has {len(header)}")
            return rows
        except (Unreadable, UnicodeDecodeError, csv.Error) as e:
            self.note_missing(panel, rel, f"unreadable: {e}")
            return None

    def json(self, rel, panel):
        if not self.exists(rel):
            self.note_missing(panel, rel)
            return None
        try:
            return json.loads(self._record(rel).decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            self.note_missing(panel, rel, f"unreadable: {e}")
            return None

    def text(self, rel, panel):
        if not self.exists(rel):
            self.note_missing(panel, rel)
            return None
        return self._record(rel).decode("utf-8", errors="replace")


def to_float(value):
    """A CSV cell as float; empty or non-numeric cells are NaN."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def numeric_columns(rows, exclude=()):
    """Columns (in header order) where every non-empty cell parses as a number and one exists."""
    if not rows:
        return []
    cols = []
    for c in rows[0].keys():
        if c in exclude:
            continue
        vals = [r[c] for r in rows if r[c] not in ("", None)]
        if vals and all(_is_number(v) for v in vals):
            cols.append(c)
    return cols


def _is_number(v):
    try:
        float(v)
        return True
    except ValueError:
        return False


def split_config(parts):
    """Directory parts between eval/ (or classifiers/) and the file -> (task, config, arch).
    The arch is the last part; a known task name anywhere in the rest is split off."""
    arch = parts[-1]
    rest = list(parts[:-1])
    task = ""
    for t in TASK_NAMES:
        if t in rest and len(rest) > 1:
            task = t
            rest.remove(t)
            break
        if rest == [t]:
            task = t
            rest = []
            break
    return task, "/".join(rest) or "(default)", arch


# Paper order of the training configurations (Tables 1-2); others follow alphabetically.
CONFIG_ORDER = [
    "real",
    "real-oversampled",
    "real-weighted",
    "real+gnc",
    "real+gpc",
    "real+gnc+gpc",
    "synthetic-only",
]


def config_key(config):
    """Paper order; "real/seed-1" (one of several experiment seeds) sorts with "real"."""
    base = config.split("/")[0]
    return (CONFIG_ORDER.index(base) if base in CONFIG_ORDER else len(CONFIG_ORDER), config)


def slug(*parts):
    s = "_".join(p for p in parts if p)
    return re.sub(r"[^A-Za-z0-9._+-]+", "-", s).strip("-") or "x"


def natural_key(name):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]
