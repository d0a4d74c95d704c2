#!/usr/bin/python3
"""PyTorch-Python reference for bench_classifier_step: the torchvision network that matches a
cxrsynth classifier (scripts/export_torchvision.py's build_cxrsynth_network: one input
channel, 2-way head; VGG-16 with cxrsynth's GAP + linear head), the same loss (binary
cross-entropy on the softmax, Keras epsilon), torch.optim.Adadelta(lr 1e-3, rho 0.95,
eps 1e-7), same batch, size and threads, random inputs.

Usage: classifier_step_reference.py ARCH SIZE BATCH THREADS REPEATS [contiguous|channels_last]
Prints "python ARCH: median S s, min S s, cpu S s, forward GFLOP G (...)" (cpu: process CPU
time of a step, all threads; with 1 thread close to the idle wall time on a busy machine): G counts the convolutions
and linear layers of one forward pass of the batch (1 MAC = 2 FLOP); a training step is
taken as 3x forward (backward = 2x forward; the first convolution needs no input gradient, so
this slightly overstates the work).
"""
import os
import sys
import time

try:
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "scripts"))
    import export_torchvision as ex
except ImportError as e:
    print(f"python: skipped ({e})")
    sys.exit(0)


def forward_flop(net, x):
    total = [0]

    def hook(m, inp, out):
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
            total[0] += 2 * out.numel() * k
        elif isinstance(m, nn.Linear):
            total[0] += 2 * out.numel() * m.in_features

    hooks = [m.register_forward_hook(hook) for m in net.modules()
             if isinstance(m, (nn.Conv2d, nn.Linear))]
    with torch.no_grad():
        net(x[:1])
    for h in hooks:
        h.remove()
    return total[0] * x.shape[0]


def bce_on_softmax(logits, labels):
    p = torch.softmax(logits, 1).clamp(1e-7, 1 - 1e-7)
    y = nn.functional.one_hot(labels, logits.shape[1]).to(p.dtype)
    return -(y * p.log() + (1 - y) * (1 - p).log()).mean(1)


def main():
    arch, size, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    threads, repeats = int(sys.argv[4]), int(sys.argv[5])
    fmt = sys.argv[6] if len(sys.argv) > 6 else "contiguous"
    if threads > 0:  # 0: PyTorch's default thread count
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = ex.build_cxrsynth_network({"arch": arch, "in_channels": 1}).train()
    x = torch.rand(batch, 1, size, size)
    y = torch.randint(0, 2, (batch,))
    if fmt == "channels_last":
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    flop = forward_flop(net, x)
    opt = torch.optim.Adadelta(net.parameters(), lr=1e-3, rho=0.95, eps=1e-7)
    times, cpu = [], []
    for r in range(repeats + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        opt.zero_grad()
        loss = bce_on_softmax(net(x), y).mean()
        loss.item()
        loss.backward()
        opt.step()
        if r > 0:
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    times.sort()
    cpu.sort()
    print(f"python {arch}: median {times[len(times) // 2]:.4f} s, min {times[0]:.4f} s, "
          f"cpu {cpu[len(cpu) // 2]:.4f} s, forward GFLOP {flop / 1e9:.3f} ({repeats} steps after 1 warm-up, {fmt}, "
          f"{threads} threads)")


if __name__ == "__main__":
    main()
