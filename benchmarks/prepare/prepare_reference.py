#!/usr/bin/python3
"""Python reference for benchmarks/prepare: the same per-image work as cxrsynth prepare
(SHA-256 of the file, decode, one grey channel, resize to N x N with area averaging, PNG
write), with pydicom for DICOM and Pillow for PNG/JPEG, one thread.

Usage: /usr/bin/python3 prepare_reference.py OUT_DIR IMAGE_SIZE REPEATS FILE...
Prints "python: N images, median S s, R images/s".
"""
import hashlib
import os
import statistics
import sys
import time

import numpy as np
import pydicom
from PIL import Image


def process(path, size, out_path):
    with open(path, "rb") as f:
        data = f.read()
    hashlib.sha256(data).hexdigest()
    if path.lower().endswith(".dcm"):
        ds = pydicom.dcmread(path)
        a = ds.pixel_array
        if ds.PhotometricInterpretation == "MONOCHROME1":
            a = a.max() - a
        img = Image.fromarray(a.astype(np.uint8) if a.dtype.itemsize == 1 else a.astype(np.uint16))
    else:
        img = Image.open(path)
        img = img.convert("L") if img.mode not in ("L", "I;16") else img
    img = img.resize((size, size), Image.BOX)  # area averaging when shrinking
    img.save(out_path)


def main():
    out_dir, size, repeats, files = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    os.makedirs(out_dir, exist_ok=True)
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        for i, f in enumerate(files):
            process(f, size, os.path.join(out_dir, "p%d.png" % i))
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print("python: %d images, median %.3f s, %.1f images/s" % (len(files), median, len(files) / median))


if __name__ == "__main__":
    main()
