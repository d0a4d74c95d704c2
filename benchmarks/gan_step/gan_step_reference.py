#!/usr/bin/python3
"""PyTorch-Python reference for bench_gan_step: one CycleGAN training step written as the
reference CycleGAN's optimize_parameters() (junyanz/pytorch-CycleGAN-and-pix2pix,
cycle_gan_model.py): forward of both generators, generator objective (adversarial + cycle +
identity) backward with the discriminators frozen, Adam step; both discriminators on real and
pooled fake images (loss halved), backward, Adam step. The networks are the same architectures
as cxrsynth's, from scripts/reference/cyclegan_reference.py (identical layers and parameter
names); the nine loss terms are read with .item() each step as cxrsynth's trainer does for its
finiteness check. Fixed random input batch; data loading is not part of the step.

Usage: gan_step_reference.py THREADS WARMUP STEPS g=... d=... c=... loss=... idt=... gp=...
       pool=... size=... batch=...   (the fields bench_gan_step prints)
Prints "python: ... median_s=X min_s=X cpu_s=X gflop_per_step=X" (wall seconds per step, median
and minimum; median process CPU seconds per step) where gflop_per_step is counted with
forward hooks on every Conv2d / ConvTranspose2d (2 x MACs), with the multiplicities of
README.md; run.sh compares it with cxrsynth's analytic count.
"""
import os
import random
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the caller prints this and skips the comparison
    print(f"python: skipped ({e})")
    sys.exit(0)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "reference"))
from cyclegan_reference import (  # noqa: E402
    Discriminator, Generator, ImagePool, adv, gradient_penalty)


def init_weights(net, kind):
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            if kind == "normal":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def forward_macs(net, x):
    """Multiply-accumulates of one forward, counted by hooks on the convolutions."""
    total = [0]

    def conv(m, inp, out):
        total[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def tconv(m, inp, out):
        total[0] += inp[0].numel() * (m.out_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    hooks = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv))
        elif isinstance(m, nn.ConvTranspose2d):
            hooks.append(m.register_forward_hook(tconv))
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return total[0]


def main():
    threads, warmup, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    f = dict(a.split("=", 1) for a in sys.argv[4:])
    g_arch, g_filters, g_blocks, g_up, g_res = f["g"].split("/")
    d_arch, d_filters, d_layers = f["d"].split("/")
    o = {"generator.channels": f["c"], "generator.filters": g_filters, "generator.arch": g_arch,
         "generator.blocks": g_blocks, "generator.upsample": g_up,
         "generator.residual": "true" if g_res == "1" else "false",
         "discriminator.arch": d_arch, "discriminator.filters": d_filters,
         "discriminator.layers": d_layers}
    kind, lam, lam_idt = f["loss"], 10.0, float(f["idt"])
    lam_gp, size, batch, c = float(f["gp"]), int(f["size"]), int(f["batch"]), int(f["c"])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    random.seed(0)
    g_a, g_b, d_a, d_b = Generator(o), Generator(o), Discriminator(o), Discriminator(o)
    for net in (g_a, g_b, d_a, d_b):
        init_weights(net, "normal" if g_arch == "resnet" else "glorot")
    opt_g = torch.optim.Adam(list(g_a.parameters()) + list(g_b.parameters()), lr=2e-4,
                             betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()), lr=2e-4,
                             betas=(0.5, 0.999))
    pool_a, pool_b = ImagePool(int(f["pool"])), ImagePool(int(f["pool"]))
    real_a = torch.rand(batch, c, size, size) * 2 - 1
    real_b = torch.rand(batch, c, size, size) * 2 - 1

    def step():
        fake_b = g_a(real_a)
        rec_a = g_b(fake_b)
        fake_a = g_b(real_b)
        rec_b = g_a(fake_a)
        for d in (d_a, d_b):
            d.requires_grad_(False)
        opt_g.zero_grad()
        terms = []
        if lam_idt > 0:
            terms += [F.l1_loss(g_a(real_b), real_b) * lam_idt,
                      F.l1_loss(g_b(real_a), real_a) * lam_idt]
        terms += [adv(d_b(fake_b), True, kind), adv(d_a(fake_a), True, kind),
                  F.l1_loss(rec_a, real_a) * lam, F.l1_loss(rec_b, real_b) * lam]
        loss_g = sum(terms)
        for t in terms + [loss_g]:
            t.item()
        loss_g.backward()
        opt_g.step()
        for d in (d_a, d_b):
            d.requires_grad_(True)
        opt_d.zero_grad()
        pooled_b = pool_b.query(fake_b.detach())
        pooled_a = pool_a.query(fake_a.detach())
        loss_db = 0.5 * (adv(d_b(real_b), True, kind) + adv(d_b(pooled_b), False, kind))
        loss_da = 0.5 * (adv(d_a(real_a), True, kind) + adv(d_a(pooled_a), False, kind))
        if kind == "wgan-gp" and lam_gp > 0:
            loss_db = loss_db + 0.5 * gradient_penalty(d_b, real_b, pooled_b,
                                                       torch.rand(batch), lam_gp)
            loss_da = loss_da + 0.5 * gradient_penalty(d_a, real_a, pooled_a,
                                                       torch.rand(batch), lam_gp)
        loss_da.item()
        loss_db.item()
        (loss_da + loss_db).backward()
        opt_d.step()

    times, cpu_times = [], []
    for i in range(warmup + steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)

    x = torch.zeros(1, c, size, size)
    g_evals = 6 if lam_idt > 0 else 4
    d_evals = 6 + (2 if kind == "wgan-gp" and lam_gp > 0 else 0)
    macs = batch * (g_evals * forward_macs(g_a, x) + d_evals * forward_macs(d_a, x))
    print("python: torch=%s threads=%d steps=%d median_s=%.4f min_s=%.4f cpu_s=%.4f "
          "gflop_per_step=%.3f" % (torch.__version__, threads, steps, statistics.median(times),
                                   min(times), statistics.median(cpu_times), 3 * 2 * macs / 1e9))


if __name__ == "__main__":
    main()
