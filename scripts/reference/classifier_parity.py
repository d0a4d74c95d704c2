#!/usr/bin/python3
"""Reference values for the classifier parity tests (tests/models/classifiers/parity_test.cpp).

  export ARCH OUT_WEIGHTS OUT_REF [--size S]
      A randomly initialised torchvision ARCH (eval mode) with randomised batch-norm statistics
      and affine parameters (so every layer matters), written with export_torchvision's
      save_state_dict; OUT_REF holds the inputs and torchvision's outputs:
        x_rgb [2,3,S,S], pooled_rgb, logits_rgb; x_gray [2,1,S,S], logits_gray (the gray
        image copied to RGB, as the authors fed it).
      The 2-class head is torchvision's own (num_classes=2) for ResNet/DenseNet. For VGG-16 the
      head is cxrsynth's (GAP + `fc`), stored as `fc.*`, and torchvision's `classifier.*` keys
      are kept (shrunk to 4 wide to keep the file small) so the importer's skip rule is exercised.

  check MODEL_FILE REF_FILE
      Loads a cxrsynth classifier file (written by C++) with export_torchvision's
      load_cxrsynth_classifier, runs it on REF_FILE's `x` and compares with REF_FILE's `logits`
      (written by C++). Exit 0 when within 1e-4, 1 otherwise.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import export_torchvision as ex  # noqa: E402

TOL = 1e-4


def randomise_batchnorm(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(n, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(n, generator=gen) * 0.1)
            m.num_batches_tracked.fill_(7)


def export(arch, out_weights, out_ref, size):
    torch.manual_seed(1234)
    gen = torch.Generator().manual_seed(99)
    if arch == "vgg16":
        tv = ex.torchvision_model("vgg16")
        tv.classifier = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Dropout(), nn.Linear(4, 4),
                                      nn.ReLU(), nn.Dropout(), nn.Linear(4, 2))
        fc = nn.Linear(512, 2)
        net = ex.VggGap(in_channels=3)
        net.features = tv.features
        net.fc = fc
        state = dict(tv.state_dict())
        state["fc.weight"] = fc.weight
        state["fc.bias"] = fc.bias
    else:
        net = ex.torchvision_model(arch, num_classes=2)
        randomise_batchnorm(net, gen)
        state = net.state_dict()
    net.eval()
    x_rgb = torch.rand(2, 3, size, size, generator=gen)
    x_gray = torch.rand(2, 1, size, size, generator=gen)
    with torch.no_grad():
        if arch == "vgg16":
            pooled = net.pooled_features(x_rgb)
        elif arch == "resnet50":
            trunk = nn.Sequential(*list(net.children())[:-1])  # up to avgpool
            pooled = torch.flatten(trunk(x_rgb), 1)
        else:
            pooled = torch.flatten(nn.functional.adaptive_avg_pool2d(
                nn.functional.relu(net.features(x_rgb)), 1), 1)
        logits_rgb = net(x_rgb)
        logits_gray = net(x_gray.repeat(1, 3, 1, 1))
    ex.save_state_dict(state, out_weights)
    torch.save({"x_rgb": x_rgb, "pooled_rgb": pooled, "logits_rgb": logits_rgb,
                "x_gray": x_gray, "logits_gray": logits_gray}, out_ref)


def check(model_file, ref_file):
    net, _ = ex.load_cxrsynth_classifier(model_file)
    ref = torch.load(ref_file)
    with torch.no_grad():
        logits = net(ref["x"])
    diff = (logits - ref["logits"]).abs().max().item()
    print(f"python logits {logits.tolist()} vs C++ {ref['logits'].tolist()}: max |diff| {diff:.3g}")
    return 0 if diff <= TOL else 1


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(description="classifier parity references")
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("arch")
    e.add_argument("out_weights")
    e.add_argument("out_ref")
    e.add_argument("--size", type=int, default=64)
    c = sub.add_parser("check")
    c.add_argument("model_file")
    c.add_argument("ref_file")
    args = ap.parse_args(argv[1:])
    if args.cmd == "export":
        export(args.arch, args.out_weights, args.out_ref, args.size)
        return 0
    return check(args.model_file, args.ref_file)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
