#!/usr/bin/python3
"""Runs a command and writes the peak of the summed resident memory (MiB) of it and all its
descendants, sampled every 0.2 s from /proc, to OUT (`cxrsynth demo` runs its stages as child
processes, some at the same time, so one process's maximum RSS is not enough).

Usage: peak_rss.py OUT COMMAND [ARG...]; exits with the command's status.
"""
import os
import subprocess
import sys
import time


def tree_rss_kib(root):
    children, rss = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
            children.setdefault(int(fields["PPid"]), []).append(int(pid))
            rss[int(pid)] = int(fields.get("VmRSS", "0 kB").split()[0])
        except (OSError, KeyError, ValueError):
            continue
    total, stack = 0, [root]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack += children.get(p, [])
    return total


def main():
    out, cmd = sys.argv[1], sys.argv[2:]
    proc = subprocess.Popen(cmd)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(0.2)
    with open(out, "w") as f:
        f.write("%.1f\n" % (peak / 1024.0))
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
