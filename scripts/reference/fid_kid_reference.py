#!/usr/bin/python3
"""Reference FID and KID for tests/audit/fid_kid_test.cpp (independent of cxrsynth's algorithms).

FID as pytorch-fid computes it (scipy.linalg.sqrtm of the non-symmetric product sigma1 sigma2,
real part), and a second value from numpy.linalg.eigvals of that product (sum of square roots of
the eigenvalues' real parts), which stays accurate when the covariances are rank-deficient and
sqrtm is not. KID as Binkowski et al.'s reference code: unbiased MMD^2 with the polynomial kernel
(x.y / d + 1)^3 over the whole sets.

Usage: fid_kid_reference.py --x X.csv --y Y.csv --out ref.json
(X.csv, Y.csv: one sample per line, comma-separated, no header). Prints SKIP and exits 3 when
numpy or scipy is missing.
"""
import argparse
import json
import sys

try:
    import numpy as np
    from scipy import linalg
except ImportError as e:  # pragma: no cover
    print(f"SKIP: {e}")
    sys.exit(3)


def fid_sqrtm(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def fid_eigvals(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    ev = np.linalg.eigvals(s1.dot(s2)).real
    tr_sqrt = np.sqrt(np.clip(ev, 0, None)).sum()
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def polynomial_kernel(a, b):
    return (a @ b.T / a.shape[1] + 1) ** 3


def kid(x, y):
    m, n = len(x), len(y)
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    sxx = (kxx.sum() - np.diag(kxx).sum()) / (m * (m - 1))
    syy = (kyy.sum() - np.diag(kyy).sum()) / (n * (n - 1))
    return float(sxx + syy - 2 * kxy.sum() / (m * n))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--x", required=True)
    p.add_argument("--y", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    x = np.loadtxt(a.x, delimiter=",", ndmin=2)
    y = np.loadtxt(a.y, delimiter=",", ndmin=2)
    out = {"fid_sqrtm": fid_sqrtm(x, y), "fid_eigvals": fid_eigvals(x, y), "kid": kid(x, y)}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
