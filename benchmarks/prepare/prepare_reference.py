#!/usr/bin/python3
"""Python reference for benchmarks/prepare: the same per-image work as cxrsynth prepare
(SHA-256 of the file, decode, one grey channel, resize to N x N with area averaging, PNG
write), with pydicom for DICOM and Pillow for PNG/JPEG.

Usage: /usr/bin/python3 prepare_reference.py [--workers N] [--png same|pillow-default]
                                             OUT_DIR IMAGE_SIZE REPEATS FILE...
Prints "python: N images, median S s, R images/s, cpu C ms/image" (C: CPU time per image,
summed over the worker processes' jobs, median of the passes).

--workers N: N worker processes (multiprocessing, created once before the timed passes), the
  way a Python user parallelises this; 1 (the default) runs in this process.
--png same (the default): PNG written with the settings cxrsynth uses (adaptive row filters,
  which Pillow always applies, and zlib's run-length strategy), so both sides write comparable
  files (Pillow's are 1% larger); pillow-default: Pillow's defaults (zlib level 6, default
  strategy: 4% larger files than cxrsynth's, about 5x the encoding time).
Each file is read once: the bytes are hashed and then parsed from memory.
"""
import argparse
import hashlib
import io
import multiprocessing
import os
import statistics
import time
import zlib

import numpy as np
import pydicom
from PIL import Image

PNG_OPTIONS = {
    "same": {"compress_level": 1, "compress_type": zlib.Z_RLE},
    "pillow-default": {},
}
_options = PNG_OPTIONS["same"]


def process(path, size, out_path):
    with open(path, "rb") as f:
        data = f.read()
    hashlib.sha256(data).hexdigest()
    if path.lower().endswith(".dcm"):
        ds = pydicom.dcmread(io.BytesIO(data))
        a = ds.pixel_array
        if ds.PhotometricInterpretation == "MONOCHROME1":
            a = a.max() - a
        img = Image.fromarray(a.astype(np.uint8) if a.dtype.itemsize == 1 else a.astype(np.uint16))
    else:
        img = Image.open(io.BytesIO(data))
        img = img.convert("L") if img.mode not in ("L", "I;16") else img
    img = img.resize((size, size), Image.BOX)  # area averaging when shrinking
    img.save(out_path, "PNG", **_options)


def _job(args):
    t0 = time.process_time()
    process(*args)
    return time.process_time() - t0


def _init(png):
    global _options
    _options = PNG_OPTIONS[png]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--png", choices=sorted(PNG_OPTIONS), default="same")
    ap.add_argument("out_dir")
    ap.add_argument("size", type=int)
    ap.add_argument("repeats", type=int)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    _init(a.png)
    os.makedirs(a.out_dir, exist_ok=True)
    jobs = [(f, a.size, os.path.join(a.out_dir, "p%d.png" % i)) for i, f in enumerate(a.files)]
    pool = multiprocessing.Pool(a.workers, _init, (a.png,)) if a.workers > 1 else None
    times, cpu = [], []
    for _ in range(max(1, a.repeats)):
        t0 = time.perf_counter()
        if pool:
            cpu.append(sum(pool.map(_job, jobs, chunksize=1)))
        else:
            c0 = time.process_time()
            for j in jobs:
                _job(j)
            cpu.append(time.process_time() - c0)
        times.append(time.perf_counter() - t0)
    if pool:
        pool.close()
        pool.join()
    median = statistics.median(times)
    n = len(a.files)
    print("python: %d images, median %.3f s, %.1f images/s, cpu %.2f ms/image"
          % (n, median, n / median, 1000 * statistics.median(cpu) / n))


if __name__ == "__main__":
    main()
