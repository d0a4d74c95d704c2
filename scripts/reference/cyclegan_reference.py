#!/usr/bin/python3
"""PyTorch reference of cxrsynth's CycleGAN networks and objective (tests/train).

Usage: cyclegan_reference.py IN.state OUT.txt

IN.state is a cxrsynth StateArchive (src/train/checkpoint.h) written by the C++ test with:
  strings  opt/<key>          generator/discriminator/loss options (as in the `gan` config)
  tensors  <NET>/param/<name> the C++ modules' parameters (NET = G_A, G_B, D_A, D_B)
  tensors  real_a, real_b     one batch, [N, C, S, S] in [-1, 1]
  tensors  alpha_a, alpha_b   [N] wgan-gp interpolation weights of D_A's and D_B's batch
The same architectures are defined here with identical parameter names (nn.Sequential
indices as in the reference CycleGAN's networks.py), loaded with load_state_dict(strict=True),
and the objective of src/train/gan_losses.h is evaluated: the generator terms and the
discriminator losses (no image pool; with wgan-gp plus the halved gradient penalty on
interpolates with the weights `alpha_a`, `alpha_b` the C++ test stores), then one Adam step of the generators and of the
discriminators, then the generator terms again. OUT.txt gets `name value` lines.
"""
import hashlib
import random
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

MAGIC = b"CXRSYNTH-STATE-1\n"
DTYPES = {0: torch.float32, 1: torch.float64, 2: torch.int64, 3: torch.uint8, 4: torch.int32}
ITEMSIZE = {0: 4, 1: 8, 2: 8, 3: 1, 4: 4}


def read_state(path):
    data = open(path, "rb").read()
    assert data[: len(MAGIC)] == MAGIC, "bad magic"
    pos = len(MAGIC)
    digest = data[pos: pos + 64].decode()
    pos += 65
    (size,) = struct.unpack_from("<Q", data, pos)
    pos += 8
    body = data[pos:]
    assert len(body) == size and hashlib.sha256(body).hexdigest() == digest, "checksum"
    out, p = {}, 0
    while p < len(body):
        (n,) = struct.unpack_from("<I", body, p)
        p += 4
        name = body[p: p + n].decode()
        p += n
        kind = body[p]
        p += 1
        if kind == 0:
            code = body[p]
            p += 1
            (ndim,) = struct.unpack_from("<I", body, p)
            p += 4
            dims = struct.unpack_from("<%dq" % ndim, body, p)
            p += 8 * ndim
            count = 1
            for d in dims:
                count *= d
            nbytes = count * ITEMSIZE[code]
            t = torch.frombuffer(bytearray(body[p: p + nbytes]), dtype=DTYPES[code])
            out[name] = t.reshape(dims).clone() if ndim else t.reshape(()).clone()
            p += nbytes
        elif kind == 1:
            (n,) = struct.unpack_from("<Q", body, p)
            p += 8
            out[name] = body[p: p + n].decode()
            p += n
        else:
            (v,) = struct.unpack_from("<q", body, p)
            p += 8
            out[name] = v
    return out


def keras_in(c):
    return nn.InstanceNorm2d(c, affine=True, eps=1e-3)


def plain_in(c):
    return nn.InstanceNorm2d(c, affine=False, eps=1e-5)


def pad_k4():
    return nn.ZeroPad2d((1, 2, 1, 2))


class UnetGenerator(nn.Module):
    def __init__(self, c, f):
        super().__init__()

        def down(i, o):
            return nn.Sequential(nn.Conv2d(i, o, 4, 2, 1), nn.LeakyReLU(0.2), keras_in(o))

        def up(i, o):
            return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), pad_k4(),
                                 nn.Conv2d(i, o, 4, 1, 0), nn.ReLU(), keras_in(o))

        self.down1, self.down2 = down(c, f), down(f, 2 * f)
        self.down3, self.down4 = down(2 * f, 4 * f), down(4 * f, 8 * f)
        self.up1, self.up2, self.up3 = up(8 * f, 4 * f), up(8 * f, 2 * f), up(4 * f, f)
        self.final = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), pad_k4(),
                                   nn.Conv2d(2 * f, c, 4, 1, 0), nn.Tanh())

    def forward(self, x):
        d1 = self.down1(x)
        d2 = self.down2(d1)
        d3 = self.down3(d2)
        d4 = self.down4(d3)
        u = torch.cat([self.up1(d4), d3], 1)
        u = torch.cat([self.up2(u), d2], 1)
        u = torch.cat([self.up3(u), d1], 1)
        return self.final(u)


class ResnetBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(c, c, 3), plain_in(c),
                                        nn.ReLU(True), nn.ReflectionPad2d(1),
                                        nn.Conv2d(c, c, 3), plain_in(c))

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, c, f, blocks, upsample):
        super().__init__()
        m = [nn.ReflectionPad2d(3), nn.Conv2d(c, f, 7), plain_in(f), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            m += [nn.Conv2d(f * mult, f * mult * 2, 3, 2, 1), plain_in(f * mult * 2),
                  nn.ReLU(True)]
        m += [ResnetBlock(4 * f) for _ in range(blocks)]
        for i in range(2):
            mult = 2 ** (2 - i)
            i_, o_ = f * mult, f * mult // 2
            if upsample == "resize-conv":
                m += [nn.Upsample(scale_factor=2, mode="nearest"), nn.ReflectionPad2d(1),
                      nn.Conv2d(i_, o_, 3)]
            else:
                m += [nn.ConvTranspose2d(i_, o_, 3, 2, 1, output_padding=1)]
            m += [plain_in(o_), nn.ReLU(True)]
        m += [nn.ReflectionPad2d(3), nn.Conv2d(f, c, 7), nn.Tanh()]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        return self.model(x)


class AuthorsDiscriminator(nn.Module):
    def __init__(self, c, f, layers):
        super().__init__()
        m, i_ = [], c
        for i in range(layers):
            o_ = f * min(2 ** i, 8)
            m += [nn.Conv2d(i_, o_, 4, 2, 1), nn.LeakyReLU(0.2)]
            if i > 0:
                m += [keras_in(o_)]
            i_ = o_
        m += [pad_k4(), nn.Conv2d(i_, 1, 4, 1, 0)]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        return self.model(x)


class PatchDiscriminator(nn.Module):
    def __init__(self, c, f, layers):
        super().__init__()
        m = [nn.Conv2d(c, f, 4, 2, 1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, layers):
            prev, mult = mult, min(2 ** n, 8)
            m += [nn.Conv2d(f * prev, f * mult, 4, 2, 1), plain_in(f * mult),
                  nn.LeakyReLU(0.2, True)]
        prev, mult = mult, min(2 ** layers, 8)
        m += [nn.Conv2d(f * prev, f * mult, 4, 1, 1), plain_in(f * mult), nn.LeakyReLU(0.2, True),
              nn.Conv2d(f * mult, 1, 4, 1, 1)]
        self.model = nn.Sequential(*m)

    def forward(self, x):
        return self.model(x)


class Generator(nn.Module):
    def __init__(self, o):
        super().__init__()
        c, f = int(o["generator.channels"]), int(o["generator.filters"])
        if o["generator.arch"] == "unet":
            self.net = UnetGenerator(c, f)
        else:
            self.net = ResnetGenerator(c, f, int(o["generator.blocks"]), o["generator.upsample"])
        self.residual = o["generator.residual"] == "true"

    def forward(self, x):
        y = self.net(x)
        return torch.clamp(x + y, -1.0, 1.0) if self.residual else y


class Discriminator(nn.Module):
    def __init__(self, o):
        super().__init__()
        c, f, n = (int(o["generator.channels"]), int(o["discriminator.filters"]),
                   int(o["discriminator.layers"]))
        if o["discriminator.arch"] == "authors":
            self.net = AuthorsDiscriminator(c, f, n)
        else:
            self.net = PatchDiscriminator(c, f, n)

    def forward(self, x):
        return self.net(x)


class ImagePool:
    """The reference CycleGAN's util/image_pool.py (module-level `random`, as there)."""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        if self.size == 0:
            return images
        out = []
        for image in images:
            image = torch.unsqueeze(image.data, 0)
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif random.uniform(0, 1) > 0.5:
                i = random.randint(0, self.size - 1)
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


def adv(pred, real, kind):
    if kind == "wgan-gp":  # reference GANLoss('wgangp')
        return -pred.mean() if real else pred.mean()
    target = torch.ones_like(pred) if real else torch.zeros_like(pred)
    if kind == "lsgan":
        return F.mse_loss(pred, target)
    return F.binary_cross_entropy_with_logits(pred, target)


def gradient_penalty(net_d, real, fake, alpha, lambda_gp):
    """Reference CycleGAN networks.cal_gradient_penalty(type='mixed', constant=1.0), with the
    per-image interpolation weights given (cxrsynth draws them from its own step generator)."""
    n = real.shape[0]
    a = alpha.view(n, 1).expand(n, real.nelement() // n).contiguous().view(*real.shape)
    mixed = a * real + ((1 - a) * fake)
    mixed.requires_grad_(True)
    out = net_d(mixed)
    grads = torch.autograd.grad(outputs=out, inputs=mixed, grad_outputs=torch.ones(out.size()),
                                create_graph=True, retain_graph=True, only_inputs=True)
    grads = grads[0].view(n, -1)
    return (((grads + 1e-16).norm(2, dim=1) - 1.0) ** 2).mean() * lambda_gp


def main():
    torch.set_num_threads(1)
    state = read_state(sys.argv[1])
    o = {k[4:]: v for k, v in state.items() if k.startswith("opt/")}
    nets = {"G_A": Generator(o), "G_B": Generator(o), "D_A": Discriminator(o),
            "D_B": Discriminator(o)}
    for name, net in nets.items():
        prefix = name + "/param/"
        sd = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        net.load_state_dict(sd, strict=True)
    real_a, real_b = state["real_a"], state["real_b"]
    kind = o["adv_loss"]
    lam, lam_idt = float(o["lambda_cycle"]), float(o["lambda_identity"])
    g_a, g_b, d_a, d_b = nets["G_A"], nets["G_B"], nets["D_A"], nets["D_B"]
    out = []

    def g_terms(tag):
        fake_b = g_a(real_a)
        rec_a = g_b(fake_b)
        fake_a = g_b(real_b)
        rec_b = g_a(fake_a)
        t = {
            "idt_a": F.l1_loss(g_a(real_b), real_b) * lam_idt,
            "idt_b": F.l1_loss(g_b(real_a), real_a) * lam_idt,
            "g_adv_a": adv(d_b(fake_b), True, kind),
            "g_adv_b": adv(d_a(fake_a), True, kind),
            "cycle_a": F.l1_loss(rec_a, real_a) * lam,
            "cycle_b": F.l1_loss(rec_b, real_b) * lam,
        }
        t["g_total"] = (t["g_adv_a"] + t["g_adv_b"] + t["cycle_a"] + t["cycle_b"] + t["idt_a"]
                        + t["idt_b"])
        for k, v in t.items():
            out.append("%s%s %.10g" % (tag, k, v.item()))
        return t, fake_b, fake_a

    betas = (float(o["beta1"]), float(o["beta2"]))
    opt_g = torch.optim.Adam(list(g_a.parameters()) + list(g_b.parameters()),
                             lr=float(o["lr"]), betas=betas)
    opt_d = torch.optim.Adam(list(d_a.parameters()) + list(d_b.parameters()),
                             lr=float(o["lr"]), betas=betas)
    for d in (d_a, d_b):
        d.requires_grad_(False)
    opt_g.zero_grad()
    t, fake_b, fake_a = g_terms("")
    t["g_total"].backward()
    opt_g.step()
    for d in (d_a, d_b):
        d.requires_grad_(True)
    opt_d.zero_grad()
    loss_db = 0.5 * (adv(d_b(real_b), True, kind) + adv(d_b(fake_b.detach()), False, kind))
    loss_da = 0.5 * (adv(d_a(real_a), True, kind) + adv(d_a(fake_a.detach()), False, kind))
    lambda_gp = float(o.get("lambda_gp", "0"))
    if kind == "wgan-gp" and lambda_gp > 0:
        # cxrsynth halves the penalty with the critic terms (src/train/gan_losses.h).
        gp_b = gradient_penalty(d_b, real_b, fake_b.detach(), state["alpha_b"], lambda_gp)
        gp_a = gradient_penalty(d_a, real_a, fake_a.detach(), state["alpha_a"], lambda_gp)
        out.append("gp_a %.10g" % gp_a.item())
        out.append("gp_b %.10g" % gp_b.item())
        loss_db = loss_db + gp_b * 0.5
        loss_da = loss_da + gp_a * 0.5
    out.append("d_a %.10g" % loss_da.item())
    out.append("d_b %.10g" % loss_db.item())
    (loss_da + loss_db).backward()
    opt_d.step()
    with torch.no_grad():
        g_terms("after_")
        out.append("after_d_b_real %.10g" % d_b(real_b).mean().item())
    open(sys.argv[2], "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
