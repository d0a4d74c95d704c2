#!/usr/bin/python3
"""Export torchvision classifier weights in a form cxrsynth (LibTorch) reads, and rebuild
cxrsynth classifier files in Python.

Run with Debian's interpreter (/usr/bin/python3, python3-torchvision). Nothing is downloaded:
the weights are either torchvision's random initialisation (--seed) or a .pth state_dict the
user already has (for example ImageNet weights fetched elsewhere).

    /usr/bin/python3 scripts/export_torchvision.py --arch densenet121 --weights densenet121.pth \
        --out densenet121-imagenet.pt
    cxrsynth train-classifier ... --weights densenet121-imagenet.pt

Format: torch.save of a plain {name: tensor} dict (the torchvision state_dict, names unchanged),
which LibTorch's torch::pickle_load reads. On import cxrsynth checks every name and shape,
adapts the RGB first convolution to one channel by summing its kernels, and skips only the
head keys it documents (src/models/classifiers/weights_io.h).

The other direction: cxrsynth classifier files (train-classifier's model.pt) are torch.load-able
dicts; load_cxrsynth_classifier() below rebuilds the same network from torchvision modules.
"""
import argparse
import sys

import torch
import torch.nn as nn
import torchvision

TORCHVISION_ARCHS = ["vgg16", "resnet50", "densenet121", "densenet161", "densenet169", "densenet201"]


def torchvision_model(arch, num_classes=1000):
    """A torchvision model with random initialisation (weights=None: no download)."""
    if arch not in TORCHVISION_ARCHS:
        raise SystemExit(f"unknown arch {arch!r}; expected one of {', '.join(TORCHVISION_ARCHS)}")
    return getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)


def save_state_dict(state_dict, path):
    """torch.save of a plain dict of contiguous CPU tensors (what torch::pickle_load reads)."""
    plain = {k: v.detach().cpu().contiguous() for k, v in state_dict.items()}
    torch.save(plain, path)


class VggGap(nn.Module):
    """cxrsynth's VGG-16: torchvision's `features`, global average pooling, one linear `fc`
    (paper sec. 4). Replaces torchvision's avgpool + three-layer classifier."""

    def __init__(self, in_channels=1, num_classes=2):
        super().__init__()
        self.features = torchvision.models.vgg16(weights=None).features
        if in_channels != 3:
            self.features[0] = nn.Conv2d(in_channels, 64, kernel_size=3, padding=1)
        self.fc = nn.Linear(512, num_classes)

    def pooled_features(self, x):
        return self.features(x).mean((2, 3))

    def forward(self, x):
        return self.fc(self.pooled_features(x))


def build_cxrsynth_network(meta):
    """The torchvision network matching a cxrsynth classifier file's architecture entries."""
    arch, in_channels = meta["arch"], int(meta["in_channels"])
    if arch == "vgg16":
        return VggGap(in_channels)
    if arch == "resnet50":
        m = torchvision.models.resnet50(weights=None, num_classes=2)
        if in_channels != 3:
            m.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        return m
    if arch.startswith("densenet"):
        if arch == "densenet":
            m = torchvision.models.DenseNet(
                growth_rate=int(meta["densenet_growth_rate"]),
                block_config=tuple(int(b) for b in meta["densenet_block_config"]),
                num_init_features=int(meta["densenet_init_features"]),
                bn_size=int(meta["densenet_bn_size"]),
                num_classes=2,
            )
        else:
            m = getattr(torchvision.models, arch)(weights=None, num_classes=2)
        if in_channels != 3:
            out = m.features.conv0.out_channels
            m.features.conv0 = nn.Conv2d(in_channels, out, kernel_size=7, stride=2, padding=3, bias=False)
        return m
    raise ValueError(f"unknown cxrsynth arch {arch!r}")


def load_cxrsynth_classifier(path):
    """Rebuilds a classifier saved by cxrsynth (model.pt) as a torchvision module, in eval mode.
    Returns (module, file dict). Apply torch.softmax(module(x), 1)[:, 1] for P(COVID-19)."""
    blob = torch.load(path, map_location="cpu")
    if not isinstance(blob, dict) or blob.get("format") != "cxrsynth-classifier/1":
        raise ValueError(f"{path}: not a cxrsynth classifier file")
    net = build_cxrsynth_network(blob)
    net.load_state_dict(blob["state_dict"], strict=True)
    net.eval()
    return net, blob


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", required=True, choices=TORCHVISION_ARCHS)
    ap.add_argument("--weights", help="a torchvision state_dict (.pth) to convert; "
                    "default: torchvision's random initialisation")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random initialisation")
    ap.add_argument("--out", required=True, help="output file for cxrsynth --weights")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    model = torchvision_model(args.arch)
    if args.weights:
        state = torch.load(args.weights, map_location="cpu")
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        # strict: a file for another architecture fails here, naming its keys
        model.load_state_dict(state, strict=True)
    save_state_dict(model.state_dict(), args.out)
    print(f"wrote {args.out}: {len(model.state_dict())} tensors of {args.arch}", file=sys.stderr)


if __name__ == "__main__":
    main()
