#!/usr/bin/python3
"""PyTorch-Python reference for P1: CycleGAN training from the image files of a prepared run
directory, end to end, written the way a Python user would (the reference CycleGAN's
UnalignedDataset + train.py loop):

  - images: the manifest's train rows of the task (gan_tasks column), A = task's label_a,
    B = covid; each step opens its A and B file with PIL, scales to [0, 1], resizes to
    load_size (bilinear), random crop to crop_size, random horizontal flip, -> [-1, 1];
    a new shuffled order per epoch (like cxrsynth's);
  - networks from scripts/reference/cyclegan_reference.py (the same architectures as cxrsynth,
    parameter names identical), PyTorch's default initialisation (cxrsynth's "normal" init
    costs the same once), Adam, the linear lr policy, image pools of pool_size, LSGAN or
    vanilla loss, identity loss, discriminator loss halved;
  - every step one row appended to losses.csv and flushed; every checkpoint_every steps and at
    the end a torch.save of all four networks, both optimisers and the pools to a temporary
    file, fsync, rename (as cxrsynth's atomic write), plus the G_A weights file; every
    sample_every steps and at the end a PNG grid of fixed samples (real, fake, reconstruction).

Usage: gan_train_reference.py RUN_DIR OUT_DIR TASK CONFIG.json THREADS [gan.key=value ...]
Prints "python: STEPS steps in S s (T s/step)".
"""
import csv
import json
import os
import random
import sys
import time

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
    from PIL import Image
except ImportError as e:
    print(f"python: skipped ({e})")
    sys.exit(0)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                                "reference"))
from cyclegan_reference import Discriminator, Generator, ImagePool, adv  # noqa: E402

TASKS = {"normal-vs-covid": ("normal", "covid"), "pneumonia-vs-covid": ("pneumonia", "covid")}


def flatten(d, prefix=""):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, prefix + k + "."))
        else:
            out[prefix + k] = v
    return out


def load(path, load_size, crop_size, flip, rng, center=False):
    im = Image.open(path)
    arr = np.asarray(im, dtype=np.float32)
    arr = arr / (65535.0 if arr.max() > 255 or im.mode.startswith("I") else 255.0)
    im = Image.fromarray(arr, mode="F")
    if im.size != (load_size, load_size):
        im = im.resize((load_size, load_size), Image.BILINEAR)
    room = load_size - crop_size
    y, x = (room // 2, room // 2) if center else (rng.randint(0, room), rng.randint(0, room))
    im = im.crop((x, y, x + crop_size, y + crop_size))
    if flip and rng.random() < 0.5:
        im = im.transpose(Image.FLIP_LEFT_RIGHT)
    return torch.from_numpy(np.asarray(im, dtype=np.float32).copy())[None] * 2 - 1


def save_atomic(obj, path):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        torch.save(obj, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def main():
    t_start = time.perf_counter()
    run_dir, out_dir, task, config = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    threads = int(sys.argv[5])
    if threads > 0:  # 0: PyTorch's default thread count
        torch.set_num_threads(threads)
    torch.manual_seed(0)
    random.seed(0)
    o = flatten(json.load(open(config))["gan"])
    for kv in sys.argv[6:]:
        k, v = kv.split("=", 1)
        o[k[len("gan."):]] = v
    o = {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in o.items()}
    label_a, label_b = TASKS[task]
    paths = {label_a: [], label_b: []}
    with open(os.path.join(run_dir, "data", "manifest.csv"), newline="") as f:
        for row in csv.DictReader(f):
            if task in row["gan_tasks"].split(";") and row["split"] == "train":
                paths[row["label"]].append(os.path.join(run_dir, "data", row["path"]))
    pa, pb = paths[label_a], paths[label_b]
    bs, load_size, crop = int(o["batch_size"]), int(o["load_size"]), int(o["crop_size"])
    flip = o["flip"] == "true"
    spe = int(o["steps_per_epoch"]) or max(1, max(len(pa), len(pb)) // bs)
    epochs, decay = int(o["epochs"]), int(o["decay_epochs"])
    total = epochs * spe
    ckpt_every, sample_every = int(o["checkpoint_every"]), int(o["sample_every"])
    g_a, g_b, d_a, d_b = Generator(o), Generator(o), Discriminator(o), Discriminator(o)
    lr, betas = float(o["lr"]), (float(o["beta1"]), float(o["beta2"]))
    opt_g = torch.optim.Adam(list(g_a.parameters()) + list(g_b.parameters()), lr=lr, betas=betas)
    opt_d = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()), lr=lr, betas=betas)
    pool_a, pool_b = ImagePool(int(o["pool_size"])), ImagePool(int(o["pool_size"]))
    kind, lam, lam_idt = o["adv_loss"], float(o["lambda_cycle"]), float(o["lambda_identity"])
    os.makedirs(os.path.join(out_dir, "samples"), exist_ok=True)
    rng = random.Random(1)
    n_fixed = int(o.get("samples", 4))
    fixed_a = torch.stack([load(p, load_size, crop, False, rng, True) for p in pa[:n_fixed]])
    fixed_b = torch.stack([load(p, load_size, crop, False, rng, True) for p in pb[:n_fixed]])

    losses = open(os.path.join(out_dir, "losses.csv"), "w")
    cols = ["step", "epoch", "lr", "g_adv_a", "g_adv_b", "cycle_a", "cycle_b", "idt_a", "idt_b",
            "g_total", "d_a", "d_b", "time_s"]
    losses.write(",".join(cols) + "\n")
    losses.flush()

    def write_samples(step):
        with torch.no_grad():
            fb, fa = g_a(fixed_a), g_b(fixed_b)
            cols_ = [fixed_a, fb, g_b(fb), fixed_b, fa, g_a(fa)]
        n, s, gap = min(len(fixed_a), len(fixed_b)), crop, 2
        grid = np.full((n * s + (n - 1) * gap, 6 * s + 5 * gap), 255, np.uint8)
        for c, t in enumerate(cols_):
            img = ((t[:n, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
            for i in range(n):
                grid[i * (s + gap):i * (s + gap) + s, c * (s + gap):c * (s + gap) + s] = img[i]
        path = os.path.join(out_dir, "samples", f"step_{step:08d}.png")
        Image.fromarray(grid).save(path + ".tmp.png")
        os.replace(path + ".tmp.png", path)

    def write_checkpoint(step):
        save_atomic({"step": step, "G_A": g_a.state_dict(), "G_B": g_b.state_dict(),
                     "D_A": d_a.state_dict(), "D_B": d_b.state_dict(),
                     "opt_G": opt_g.state_dict(), "opt_D": opt_d.state_dict(),
                     "pool_a": pool_a.images, "pool_b": pool_b.images,
                     "torch_rng": torch.get_rng_state()}, os.path.join(out_dir, "checkpoint.pt"))
        save_atomic({"step": step, "G_A": g_a.state_dict()}, os.path.join(out_dir, "generator.pt"))

    t0 = time.perf_counter()
    for step in range(total):
        epoch = step // spe
        s = step % spe
        if s == 0:
            order_a = rng.sample(range(len(pa)), len(pa))
            order_b = rng.sample(range(len(pb)), len(pb))
        n_const = epochs - decay
        cur_lr = lr * max(0.0, 1.0 - max(0, epoch + 1 - n_const) / float(decay + 1)) \
            if o["lr_policy"] == "linear" and decay > 0 else lr
        for opt in (opt_g, opt_d):
            for g in opt.param_groups:
                g["lr"] = cur_lr
        real_a = torch.stack([load(pa[order_a[(s * bs + j) % len(pa)]], load_size, crop, flip, rng)
                              for j in range(bs)])
        real_b = torch.stack([load(pb[order_b[(s * bs + j) % len(pb)]], load_size, crop, flip, rng)
                              for j in range(bs)])
        for d in (d_a, d_b):
            d.requires_grad_(False)
        opt_g.zero_grad()
        fake_b = g_a(real_a)
        rec_a = g_b(fake_b)
        fake_a = g_b(real_b)
        rec_b = g_a(fake_a)
        t = {"g_adv_a": adv(d_b(fake_b), True, kind), "g_adv_b": adv(d_a(fake_a), True, kind),
             "cycle_a": F.l1_loss(rec_a, real_a) * lam, "cycle_b": F.l1_loss(rec_b, real_b) * lam}
        if lam_idt > 0:
            t["idt_a"] = F.l1_loss(g_a(real_b), real_b) * lam_idt
            t["idt_b"] = F.l1_loss(g_b(real_a), real_a) * lam_idt
        else:
            t["idt_a"] = t["idt_b"] = torch.zeros(())
        t["g_total"] = sum(t.values())
        vals = {k: v.item() for k, v in t.items()}
        t["g_total"].backward()
        opt_g.step()
        for d in (d_a, d_b):
            d.requires_grad_(True)
        opt_d.zero_grad()
        fb = pool_b.query(fake_b.detach())
        fa = pool_a.query(fake_a.detach())
        loss_db = 0.5 * (adv(d_b(real_b), True, kind) + adv(d_b(fb), False, kind))
        loss_da = 0.5 * (adv(d_a(real_a), True, kind) + adv(d_a(fa), False, kind))
        vals["d_a"], vals["d_b"] = loss_da.item(), loss_db.item()
        (loss_da + loss_db).backward()
        opt_d.step()
        done = step + 1
        losses.write(",".join([str(done), str(epoch + 1), "%.8g" % cur_lr]
                              + ["%.8g" % vals[k] for k in cols[3:12]]
                              + ["%.3f" % (time.perf_counter() - t0)]) + "\n")
        losses.flush()
        if done % ckpt_every == 0 or done == total:
            write_checkpoint(done)
        if (sample_every > 0 and done % sample_every == 0) or done == total:
            write_samples(done)
    losses.close()
    secs = time.perf_counter() - t_start
    print(f"python: {total} steps in {secs:.2f} s ({(time.perf_counter() - t0) / total:.4f} "
          f"s/step in the loop)")


if __name__ == "__main__":
    main()
