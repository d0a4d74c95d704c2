// Architecture options of the CycleGAN networks (torch-free). Owned by the models module; the
// `gan.generator` and `gan.discriminator` config sections. Defaults are the authors' code
// (METHOD.md section 2, preset `paper`); the reference CycleGAN values are in
// configs/reference.json.
#pragma once

#include <string>

#include "config/fields.h"

namespace cxrsynth::models {

struct GeneratorOptions {
  std::string arch = "unet";  // unet | resnet. Source: authors' code (U-Net)
  int channels = 1;           // image channels in and out. Source: ours (grayscale X-rays)
  int filters = 32;           // base filters (U-Net gf / ResNet ngf). Source: authors' code
  int blocks = 9;             // ResNet residual blocks (6 or 9). Source: reference CycleGAN
  std::string upsample = "transposed";  // ResNet only: transposed | resize-conv. Source: reference
  bool residual = false;                // predict a change added to the input. Source: ours
};

template <class V>
void visit_fields(V& v, GeneratorOptions& o) {
  using config::Doc;
  v.field("arch", o.arch,
          Doc("Generator architecture: unet (authors' code: 4 down, 3 up steps, skips) or "
              "resnet (reference CycleGAN: 2 down convs, residual blocks, 2 up steps)",
              "authors' code")
              .one_of({"unet", "resnet"}));
  v.field(
      "channels", o.channels,
      Doc("Image channels in and out: 1 (grayscale X-rays) or 3 (RGB copies)", "ours").range(1, 3));
  v.field("filters", o.filters,
          Doc("Base filters: U-Net gf (authors: 32), ResNet ngf (reference: 64)", "authors' code")
              .range(1, 1024));
  v.field("blocks", o.blocks,
          Doc("Residual blocks of the ResNet generator (reference: 9 at 256 px, 6 at 128 px)",
              "reference CycleGAN")
              .range(1, 64));
  v.field("upsample", o.upsample,
          Doc("ResNet upsampling: transposed (reference) or resize-conv (nearest x2 + 3x3 conv; "
              "no checkerboard artefacts, decisive for small presets, PHANTOM-DEMO.md). The "
              "U-Net always uses nearest x2 + 4x4 conv (authors' code)",
              "reference CycleGAN")
              .one_of({"transposed", "resize-conv"}));
  v.field("residual", o.residual,
          Doc("Residual output: the generator predicts a change that is added to its input and "
              "clamped to [-1, 1] (keeps edits inside the lungs on small presets, "
              "PHANTOM-DEMO.md); false = direct output as in the paper",
              "ours"));
}

struct DiscriminatorOptions {
  std::string arch = "authors";  // authors | patchgan. Source: authors' code
  int filters = 64;              // first layer filters (df / ndf). Source: authors' code; reference
  int layers = 4;                // stride-2 convolutions. Source: authors' code (4); reference 3
};

template <class V>
void visit_fields(V& v, DiscriminatorOptions& o) {
  using config::Doc;
  v.field("arch", o.arch,
          Doc("Discriminator: authors (stride-2 conv 4x4 -> LeakyReLU -> InstanceNorm, then conv "
              "4x4 s1 to one channel: 16x16 patch map at 256 px) or patchgan (reference 70x70 "
              "PatchGAN: conv -> InstanceNorm -> LeakyReLU, then a stride-1 conv and the output "
              "conv)",
              "authors' code")
              .one_of({"authors", "patchgan"}));
  v.field("filters", o.filters,
          Doc("Filters of the first layer, doubled per layer up to 8x (authors and reference: 64)",
              "authors' code")
              .range(1, 1024));
  v.field("layers", o.layers,
          Doc("Stride-2 convolutions (authors: 4; reference PatchGAN n_layers: 3)", "authors' code")
              .range(1, 8));
}

// Output side of the discriminator's patch map for an input side (0 = nothing left); defined in
// networks.cpp.
int discriminator_output_size(const DiscriminatorOptions& options, int size);

}  // namespace cxrsynth::models
