#!/usr/bin/python3
"""Dump pydicom's pixel_array of DICOM files as binary PGM, for comparison with cxrsynth's
DCMTK decoding (tests/data/dicom_reference_test.cpp).

Usage: /usr/bin/python3 pydicom_pixels.py OUT_DIR FILE.dcm...
Writes OUT_DIR/<stem>.pgm (maxval 255 for 8-bit data, 65535 big-endian otherwise) holding the
stored values exactly as pydicom returns them (no rescale, no window, no MONOCHROME1
inversion: the test only compares files that need none). Exit status 3 when pydicom or numpy
is missing, so the test can skip.
"""
import os
import sys

try:
    import numpy as np
    import pydicom
except ImportError as e:  # the test skips on status 3
    print(f"missing module: {e}", file=sys.stderr)
    sys.exit(3)


def main():
    out_dir = sys.argv[1]
    for path in sys.argv[2:]:
        ds = pydicom.dcmread(path)
        a = ds.pixel_array
        if a.ndim != 2:
            raise SystemExit(f"{path}: expected one grey frame, got shape {a.shape}")
        h, w = a.shape
        stem = os.path.splitext(os.path.basename(path))[0]
        with open(os.path.join(out_dir, stem + ".pgm"), "wb") as f:
            if a.dtype.itemsize == 1:
                f.write(b"P5\n%d %d\n255\n" % (w, h))
                f.write(a.astype(np.uint8).tobytes())
            else:
                f.write(b"P5\n%d %d\n65535\n" % (w, h))
                f.write(a.astype(">u2").tobytes())


if __name__ == "__main__":
    main()
