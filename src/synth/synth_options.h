// Options of the `synthesize` stage (the `synth` config section; torch-free).
//
// What changes output bytes (and so enters the manifest's options_hash): the generator's
// architecture options, image_size, bit_depth, precision, direction and batch_size (a batch is
// the unit of computation: an image is always computed together with the same neighbours, so
// sharded and unsharded runs agree byte for byte). workers and prefetch_batches only change
// speed.
#pragma once

#include <string>

#include "config/fields.h"

namespace cxrsynth::synth {

struct SynthOptions {
  std::string direction =
      "a2b";           // a2b: G_A (the paper's synthesis); b2a: G_B. Source: paper sec. 3
  int bit_depth = 16;  // PNG bits per sample: 16 or 8. Source: ours
  std::string precision = "fp32";  // fp32 | bf16 (U-Net: bf16 graph; else autocast). Source: ours
  int batch_size = 8;              // images per generator call. Source: ours
  int image_size = 0;         // 0 = the generator's training size (generator.json). Source: ours
  int workers = 2;            // decode/encode threads beside the compute thread. Source: ours
  int prefetch_batches = 2;   // decoded batches kept ready ahead of the model. Source: ours
  int bf16_check_images = 8;  // with bf16: images also run in fp32 for the PSNR. Source: ours
};

template <class V>
void visit_fields(V& v, SynthOptions& o) {
  using config::Doc;
  v.field("direction", o.direction,
          Doc("a2b applies G_A (Normal/Pneumonia -> COVID-19, as the paper's synthetic sets); "
              "b2a applies G_B (COVID-19 -> A, read from R/gan/<task>/checkpoint.pt)",
              "paper sec. 3")
              .one_of({"a2b", "b2a"}));
  v.field("bit_depth", o.bit_depth,
          Doc("Bits per sample of the output PNGs: 16 (default) or 8 (the authors saved 8-bit "
              "JPEGs)",
              "ours")
              .range(8, 16));
  v.field("precision", o.precision,
          Doc("Inference precision: fp32, or bf16 (only where the CPU has AVX512_BF16/AMX): U-Net "
              "generators run a frozen bf16 graph (synth/bf16_unet.h), others CPU autocast; the "
              "PSNR against fp32 on the first images is logged",
              "ours")
              .one_of({"fp32", "bf16"}));
  v.field("batch_size", o.batch_size,
          Doc("Images per generator call; part of the output's identity (options_hash)", "ours")
              .range(1, 4096));
  v.field("image_size", o.image_size,
          Doc("Side the inputs are resized to (area when shrinking); 0 = the generator's "
              "training size from generator.json",
              "ours")
              .range(0, 16384));
  v.field("workers", o.workers,
          Doc("Threads that decode inputs and encode outputs while the model runs; outputs do "
              "not depend on it",
              "ours")
              .range(1, 256));
  v.field("prefetch_batches", o.prefetch_batches,
          Doc("Decoded batches kept ready ahead of the model (memory vs. overlap)", "ours")
              .range(1, 64));
  v.field("bf16_check_images", o.bf16_check_images,
          Doc("With precision bf16: how many of the first images are also run in fp32 to log "
              "the PSNR of bf16 against fp32 (0 = no check)",
              "ours")
              .range(0, 1 << 20));
}

}  // namespace cxrsynth::synth
