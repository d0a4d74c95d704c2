#!/usr/bin/python3
"""PyTorch-Python reference for bench_synth: the same generator architecture (imported from
scripts/reference/cyclegan_reference.py, parameter names identical to the C++ modules), the
same batch, decode (Pillow, 16-bit PNG) -> [-1, 1] -> generator under torch.inference_mode ->
[0, 1] -> 16-bit PNG (Pillow, zlib level 1 as OpenCV's default in cxrsynth: Pillow's default
level 6 was slightly slower for the same size; files within 4% of cxrsynth's) written to a temp
name and renamed (no fsync; cxrsynth fsyncs every PNG). Sequential, one process, fp32.

Usage: bench_synth_reference.py IN_DIR OUT_DIR SIZE N BATCH ARCH FILTERS THREADS [PRECISION]
Prints "python: N images, model X images/s, end-to-end Y images/s"; with PRECISION bf16 also
", model bf16 autocast Z images/s" (the generator alone under torch.autocast('cpu', bfloat16):
for information, the goal's reference is fp32).
"""
import os
import sys
import time

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:  # the caller prints this and skips the comparison
    print(f"python: skipped ({e})")
    sys.exit(0)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "reference"))
from cyclegan_reference import Generator  # noqa: E402


def main():
    in_dir, out_dir = sys.argv[1], sys.argv[2]
    size, n, batch = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    arch, filters, threads = sys.argv[6], int(sys.argv[7]), int(sys.argv[8])
    precision = sys.argv[9] if len(sys.argv) > 9 else "fp32"
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    o = {"generator.channels": "1", "generator.filters": str(filters), "generator.arch": arch,
         "generator.blocks": "9", "generator.upsample": "transposed",
         "generator.residual": "false"}
    net = Generator(o).eval()
    x = torch.rand(batch, 1, size, size) * 2 - 1
    batches = (n + batch - 1) // batch
    with torch.inference_mode():
        net(x)
        t0 = time.perf_counter()
        for _ in range(batches):
            net(x)
        model = batches * batch / (time.perf_counter() - t0)
        autocast = None
        if precision == "bf16":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                net(x)
                t0 = time.perf_counter()
                for _ in range(batches):
                    net(x)
                autocast = batches * batch / (time.perf_counter() - t0)
    os.makedirs(out_dir, exist_ok=True)
    files = [os.path.join(in_dir, f"in-{i}.png") for i in range(n)]
    t0 = time.perf_counter()
    with torch.inference_mode():
        for b in range(0, n, batch):
            chunk = files[b:b + batch]
            arr = np.stack([np.asarray(Image.open(f), dtype=np.float32) / 65535.0 for f in chunk])
            out = net(torch.from_numpy(arr[:, None] * 2 - 1))
            u = ((out[:, 0].clamp(-1, 1) + 1) * 0.5 * 65535).round().to(torch.int32).numpy()
            for k, f in enumerate(chunk):
                dst = os.path.join(out_dir, f"py-{b + k:06d}.png")
                Image.fromarray(u[k].astype(np.uint16)).save(dst + ".tmp.png", compress_level=1)
                os.replace(dst + ".tmp.png", dst)
    e2e = n / (time.perf_counter() - t0)
    extra = f", model bf16 autocast {autocast:.2f} images/s" if autocast else ""
    print(f"python: {n} images, model {model:.2f} images/s, end-to-end {e2e:.2f} images/s{extra}")


if __name__ == "__main__":
    main()
