#!/usr/bin/python3
"""Fault injection for cxrsynth (issue #10 item 1).

    scripts/fault_inject.py [--kills N] [--commands train-gan,train-classifier,synthesize,experiment]
                            [--every-write STRIDE] [--binary build/cxrsynth] [--work DIR]
                            [--seed S] [--no-disk-full]
                            [--no-corrupt] [--keep]

On smoke-scale phantom data (configs/smoke.json; one `prepare` shared by every case):

* kill points: for each command, an uninterrupted reference run, then N runs killed with SIGKILL
  at a random moment (uniform over the reference's duration, seeded) and continued (train-gan
  with --resume; the other stages resume from their own checkpoints and journals when rerun).
  The continued run must give exactly the reference's outputs: every file under the stage's
  output folders byte for byte, except wall-clock fields (CSV columns and JSON keys named
  time/seconds/elapsed/..., dropped before comparing) and the logs.
* crash after a write (--every-write STRIDE): the binary kills itself right after its n-th
  atomic file write (CXRSYNTH_KILL_AFTER_WRITES=n, src/core/atomic_file.cpp), for every
  STRIDE-th n until the run is done; continued and compared as above. Unlike a kill at a random
  time, this reaches each gap between two outputs (a checkpoint and the files it implies), the
  places where a resumed run can go wrong.
* full disk (--no-disk-full to skip): train-gan and train-classifier rerun under a file-size
  limit (RLIMIT_FSIZE with SIGXFSZ ignored: writes fail with EFBIG as on a full disk) smaller
  than their checkpoint. Expected: a non-zero exit, an error naming the file being written,
  the previous checkpoint intact (byte-identical); with the limit lifted the run completes to
  the reference's outputs.
* corrupt checkpoint (--no-corrupt to skip): one byte flipped in the middle of a GAN
  checkpoint.pt and a classifier checkpoint.state; resuming must refuse with a checksum error
  naming the file.

Prints one line per case and a summary; exit status 0 when every case passed. CI runs it with
--kills 2, one command per ctest test (tests/integration/CMakeLists.txt).
"""
import argparse
import csv
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = "normal-vs-covid"
TIME_KEY = re.compile(r"(^|_)(time|times|seconds|elapsed|duration|date|timestamp|started|"
                      r"finished|wall|host|hostname|resumed|resumed_from)($|_)|_s$|_ms$|_sec$", re.I)
# Files that hold wall-clock facts only, or that each invocation rewrites with its own argv.
SKIP_FILES = re.compile(r"(^|/)(log\.jsonl|config\.json|config\.diff\.txt|.*\.log)$|(^|/)journal/")
# Temporary files of atomic writes (".<stem>.tmp<pid>-<n><ext>"): a SIGKILL mid-write leaves
# one behind; it is never read, and the target file is intact.
TMP_FILE = re.compile(r"(^|/)\.[^/]*\.tmp\d+-\d+[^/]*$")


def smoke_config():
    return os.path.join(ROOT, "configs", "smoke.json")


class Runner:
    def __init__(self, binary, verbose):
        self.binary = binary
        self.verbose = verbose

    def args(self, cmd, run_dir, extra=()):
        base = [self.binary, cmd, "--run-dir", run_dir, "--config", smoke_config(),
                "--threads", "1", "-q"]
        if cmd in ("train-gan", "synthesize", "train-classifier"):
            base[2:2] = ["--task", TASK]
        return base + list(extra)

    def run(self, argv, fsize_limit=None, timeout=600):
        def limit():
            if fsize_limit is not None:
                signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a kill
                resource.setrlimit(resource.RLIMIT_FSIZE, (fsize_limit, fsize_limit))
        t0 = time.monotonic()
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           preexec_fn=limit, timeout=timeout)
        dt = time.monotonic() - t0
        out = p.stdout.decode("utf-8", "replace")
        if self.verbose:
            print("  $ " + " ".join(argv) + f"  -> {p.returncode} ({dt:.1f} s)")
        return p.returncode, out, dt

    def run_killed(self, argv, delay):
        """Starts argv, SIGKILLs it after `delay` s. True when it was killed (not finished)."""
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            p.wait(timeout=delay)
            return False
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.wait()
            return True

    def run_killed_after_writes(self, argv, writes, timeout=600):
        """Runs argv with CXRSYNTH_KILL_AFTER_WRITES=writes: the binary SIGKILLs itself right
        after its writes-th atomic file write. True when it was killed (had that many writes)."""
        env = dict(os.environ, CXRSYNTH_KILL_AFTER_WRITES=str(writes))
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                           timeout=timeout)
        if p.returncode not in (0, -signal.SIGKILL):
            sys.exit(f"run with CXRSYNTH_KILL_AFTER_WRITES={writes} exited {p.returncode}:\n"
                     + p.stdout.decode("utf-8", "replace")[-2000:])
        return p.returncode == -signal.SIGKILL


def normalise_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        return rows
    keep = [i for i, name in enumerate(rows[0]) if not TIME_KEY.search(name)]
    return [[r[i] for i in keep if i < len(r)] for r in rows]


def normalise_json(value):
    if isinstance(value, dict):
        return {k: normalise_json(v) for k, v in value.items() if not TIME_KEY.search(k)}
    if isinstance(value, list):
        return [normalise_json(v) for v in value]
    return value


def snapshot(run_dir, subdirs):
    """{relative path: comparable content} of every file under the given sub-folders."""
    out = {}
    for sub in subdirs:
        base = os.path.join(run_dir, sub)
        for dirpath, _, files in os.walk(base):
            for f in files:
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, run_dir)
                if SKIP_FILES.search(rel) or TMP_FILE.search(rel):
                    continue
                with open(path, "rb") as fh:
                    data = fh.read()
                if not f.endswith(".pt") and not f.endswith(".png"):
                    # Files that record where they were made (evaluation.json names its model).
                    data = data.replace(os.path.abspath(run_dir).encode(), b"<R>")
                if f.endswith(".csv"):
                    out[rel] = normalise_csv(data.decode("utf-8", "replace"))
                elif f.endswith(".json"):
                    try:
                        out[rel] = normalise_json(json.loads(data))
                    except ValueError:
                        out[rel] = data
                elif f.endswith(".md") or f.endswith(".txt"):
                    # Markdown tables may carry wall-clock columns too: drop those lines' numbers
                    # only when the line names a time.
                    text = data.decode("utf-8", "replace")
                    out[rel] = [ln for ln in text.splitlines() if not TIME_KEY.search(ln)]
                else:
                    out[rel] = data
    return out


def diff_snapshots(ref, got):
    problems = []
    for rel in sorted(set(ref) | set(got)):
        if rel not in got:
            problems.append(f"missing {rel}")
        elif rel not in ref:
            problems.append(f"extra {rel}")
        elif ref[rel] != got[rel]:
            problems.append(f"differs {rel}")
    return problems


# What each command needs before it runs, and what it writes.
STAGES = {
    "train-gan": {"needs": [], "outputs": [f"gan/{TASK}"], "resume": ["--resume"]},
    "synthesize": {"needs": ["train-gan"], "outputs": [f"synthetic/{TASK}"], "resume": []},
    "train-classifier": {"needs": [], "outputs": ["classifiers"], "resume": []},
    "experiment": {"needs": [], "outputs": ["gan", "synthetic", "classifiers", "eval",
                                            "experiment"], "resume": []},
}


class Result:
    def __init__(self):
        self.lines = []
        self.failed = 0
        self.passed = 0

    def add(self, ok, what, detail=""):
        self.lines.append(("PASS" if ok else "FAIL") + f"  {what}" + (f": {detail}" if detail else ""))
        print(self.lines[-1], flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1


def copy_run(src, dst):
    if os.path.exists(dst):
        shutil.rmtree(dst)
    shutil.copytree(src, dst, symlinks=True)


def prepared_base(runner, work, cmd, cache):
    """A run directory holding what `cmd` needs (prepare, and train-gan for synthesize)."""
    key = tuple(STAGES[cmd]["needs"])
    if key in cache:
        return cache[key]
    base = os.path.join(work, "base-" + ("-".join(key) or "prepared"))
    if "prepared" not in cache:
        d = os.path.join(work, "base-prepared")
        rc, out, _ = runner.run([runner.binary, "prepare", "--run-dir", d, "--config",
                                 smoke_config(), "--threads", "1", "-q"])
        if rc != 0:
            sys.exit(f"prepare failed ({rc}):\n{out}")
        cache["prepared"] = d
        cache[()] = d
    if key in cache:
        return cache[key]
    copy_run(cache["prepared"], base)
    for need in key:
        rc, out, _ = runner.run(runner.args(need, base))
        if rc != 0:
            sys.exit(f"{need} failed ({rc}):\n{out}")
    cache[key] = base
    return base


def continue_and_compare(runner, cmd, d, ref_snap, what, result):
    """Continues an interrupted run in d as a user would; its outputs must equal the reference's."""
    st = STAGES[cmd]
    resume = st["resume"] if os.path.exists(os.path.join(d, st["outputs"][0])) else []
    if cmd == "train-gan" and not os.path.exists(os.path.join(d, "gan", TASK, "checkpoint.pt")):
        resume = []  # killed before its first checkpoint: a fresh start is the resume
    rc, out, _ = runner.run(runner.args(cmd, d, resume))
    if rc != 0:
        result.add(False, what, f"continuing exited {rc}\n{out}")
    else:
        problems = diff_snapshots(ref_snap, snapshot(d, st["outputs"]))
        result.add(not problems, what, "; ".join(problems[:8]))
    if not runner.keep:
        shutil.rmtree(d, ignore_errors=True)


def kill_points(runner, work, cmd, kills, every_write, rng, cache, result):
    st = STAGES[cmd]
    base = prepared_base(runner, work, cmd, cache)
    ref = os.path.join(work, f"{cmd}-reference")
    copy_run(base, ref)
    rc, out, duration = runner.run(runner.args(cmd, ref))
    if rc != 0:
        result.add(False, f"{cmd}: reference run", f"exit {rc}\n{out}")
        return None
    ref_snap = snapshot(ref, st["outputs"])
    print(f"      {cmd}: reference {duration:.1f} s, {len(ref_snap)} files compared", flush=True)
    for k in range(kills):
        d = os.path.join(work, f"{cmd}-kill-{k}")
        # A run can be faster than the reference (the machine's load changes): when it finished
        # before its kill, start again from a fresh copy with half the delay (4 tries).
        fraction = rng.uniform(0.05, 0.95)
        for attempt in range(4):
            copy_run(base, d)
            delay = fraction * duration * 0.5 ** attempt
            killed = runner.run_killed(runner.args(cmd, d), delay)
            if killed:
                break
        what = f"{cmd}: kill {k + 1}/{kills} at {delay:.2f} s" + ("" if killed else
                                                                     " (finished before)")
        continue_and_compare(runner, cmd, d, ref_snap, what, result)
    if every_write > 0:
        # Deterministic crash points: right after the n-th atomic write, for n = first, first +
        # stride, ... until a run makes fewer writes than n (seeded first in [1, stride]).
        n = rng.randint(1, every_write)
        while True:
            d = os.path.join(work, f"{cmd}-write-{n}")
            copy_run(base, d)
            if not runner.run_killed_after_writes(runner.args(cmd, d), n):
                shutil.rmtree(d, ignore_errors=True)
                print(f"      {cmd}: the run makes fewer than {n} atomic writes", flush=True)
                break
            continue_and_compare(runner, cmd, d, ref_snap,
                                 f"{cmd}: killed after atomic write {n}", result)
            n += every_write
    return ref


def checkpoint_of(cmd, run_dir):
    if cmd == "train-gan":
        return os.path.join(run_dir, "gan", TASK, "checkpoint.pt")
    for dirpath, _, files in os.walk(os.path.join(run_dir, "classifiers")):
        if "checkpoint.state" in files:
            return os.path.join(dirpath, "checkpoint.state")
    return None


def interrupted_state(runner, work, cmd, cache, name):
    """A run directory where `cmd` stopped after its first checkpoint (killed as soon as the
    checkpoint file appears). Returns (dir, checkpoint path) or (None, None)."""
    base = prepared_base(runner, work, cmd, cache)
    d = os.path.join(work, name)
    copy_run(base, d)
    p = subprocess.Popen(runner.args(cmd, d), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    ckpt = None
    while time.monotonic() < deadline and p.poll() is None:
        ckpt = checkpoint_of(cmd, d)
        if ckpt and os.path.exists(ckpt):
            break
        time.sleep(0.002)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
    p.wait()
    ckpt = checkpoint_of(cmd, d)
    if p.returncode != -signal.SIGKILL or not ckpt:
        return None, None
    return d, ckpt


def disk_full(runner, work, cmd, cache, refs, result):
    st = STAGES[cmd]
    d, ckpt = interrupted_state(runner, work, cmd, cache, f"{cmd}-disk-full")
    if not d:
        result.add(False, f"{cmd}: full disk", "could not stop the run after its first checkpoint")
        return
    before = open(ckpt, "rb").read()
    tmp_before = set(f for f in os.listdir(os.path.dirname(ckpt)) if TMP_FILE.search(f))
    limit = max(4096, len(before) // 2)  # below the checkpoint's size, above the CSV/JSON files
    rc, out, _ = runner.run(runner.args(cmd, d, st["resume"]), fsize_limit=limit)
    after = open(ckpt, "rb").read()
    names_file = re.search(r"(checkpoint|\.pt|\.state|generator|model)", out) is not None
    says_why = re.search(r"(File too large|No space left)", out) is not None
    leftovers = [f for f in os.listdir(os.path.dirname(ckpt))
                 if TMP_FILE.search(f) and f not in tmp_before]
    ok = rc not in (0, -signal.SIGXFSZ) and names_file and says_why and after == before and \
        not leftovers
    first = " | ".join(ln.strip() for ln in out.splitlines()
                       if "rror" in ln or "too large" in ln) or out[-300:]
    result.add(ok, f"{cmd}: full disk (file-size limit {limit} B) -> clear error, "
               f"checkpoint intact",
               f"exit {rc}; checkpoint {'intact' if after == before else 'CHANGED'}; "
               f"temp files left: {leftovers}; message: {first.strip()}")
    # Space freed: resuming completes to the reference's outputs.
    rc, out, _ = runner.run(runner.args(cmd, d, st["resume"]))
    problems = diff_snapshots(snapshot(refs[cmd], st["outputs"]), snapshot(d, st["outputs"])) \
        if rc == 0 and refs.get(cmd) else ["no reference run"] if rc == 0 else [out[-500:]]
    result.add(rc == 0 and not problems, f"{cmd}: full disk -> resume after freeing space",
               "; ".join(problems[:8]) or f"exit {rc}")
    if not runner.keep:
        shutil.rmtree(d, ignore_errors=True)


def corrupt(runner, work, cmd, cache, result):
    st = STAGES[cmd]
    d, ckpt = interrupted_state(runner, work, cmd, cache, f"{cmd}-corrupt")
    if not d:
        result.add(False, f"{cmd}: corrupt checkpoint", "could not stop after a checkpoint")
        return
    data = bytearray(open(ckpt, "rb").read())
    data[len(data) // 2] ^= 0x01
    open(ckpt, "wb").write(bytes(data))
    rc, out, _ = runner.run(runner.args(cmd, d, st["resume"]))
    ok = rc != 0 and "checksum" in out and os.path.basename(ckpt) in out
    first = next((ln for ln in out.splitlines() if "checksum" in ln), out[-300:])
    result.add(ok, f"{cmd}: corrupted checkpoint refused", f"exit {rc}: {first.strip()}")
    if not runner.keep:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=10, help="kill points per command (10)")
    ap.add_argument("--commands", default="train-gan,train-classifier,synthesize,experiment")
    ap.add_argument("--binary", default=os.environ.get("CXRSYNTH_BINARY",
                                                       os.path.join(ROOT, "build", "bin", "cxrsynth")))
    ap.add_argument("--work", help="work folder (default: a temporary one, removed)")
    ap.add_argument("--every-write", type=int, default=0, metavar="STRIDE",
                    help="also kill right after every STRIDE-th atomic file write (0: off)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    ap.add_argument("--no-disk-full", action="store_true")
    ap.add_argument("--no-corrupt", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the run folders")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    if not os.access(a.binary, os.X_OK):
        sys.exit(f"{a.binary}: no cxrsynth binary (build it, or pass --binary)")
    commands = [c for c in a.commands.split(",") if c]
    for c in commands:
        if c not in STAGES:
            sys.exit(f"--commands: unknown command '{c}'; expected some of {', '.join(STAGES)}")
    work = a.work or tempfile.mkdtemp(prefix="cxrsynth-faults-")
    os.makedirs(work, exist_ok=True)
    runner = Runner(a.binary, a.verbose)
    runner.keep = a.keep
    rng = random.Random(a.seed)
    result = Result()
    cache = {}
    refs = {}
    t0 = time.monotonic()
    try:
        for cmd in commands:
            refs[cmd] = kill_points(runner, work, cmd, a.kills, a.every_write, rng, cache, result)
        for cmd in commands:
            if cmd in ("train-gan", "train-classifier"):
                if not a.no_disk_full:
                    disk_full(runner, work, cmd, cache, refs, result)
                if not a.no_corrupt:
                    corrupt(runner, work, cmd, cache, result)
    finally:
        if not a.work and not a.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"fault injection: {result.passed} passed, {result.failed} failed "
          f"({time.monotonic() - t0:.0f} s)")
    return 0 if result.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
