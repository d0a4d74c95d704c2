// A frozen bf16 inference graph of the authors' U-Net generator (precision bf16 only; the fp32
// path always runs the module itself, so fp32 outputs are unchanged).
//
// Same function as UnetGenerator::forward, computed differently (benchmarks/synth/README.md has
// the profile behind each point):
// - weights converted to bf16 once, in channels_last, so oneDNN runs its avx512_core_bf16
//   (brgconv) kernels on NHWC activations with no activation reorders around each convolution;
// - every "nearest x2 -> zero pad (1, 2) -> conv 4x4" up step is rewritten exactly as one
//   3x3 convolution with 4x the output channels on the low-resolution input (zero pad 1),
//   followed by a pixel shuffle: each output pixel parity (p, q) sees only 2-3 distinct input
//   rows/columns, whose 4x4 taps are summed into 3x3 (in double, then rounded to bf16). This
//   is 36 instead of 64 multiply-adds per output (the up steps are 87% of the U-Net's FLOPs),
//   no upsampled tensor is materialised, and the final 1-channel conv (which oneDNN pads to 16
//   output channels) becomes a 4-channel one;
// - activation, instance norm (statistics in fp32/double), pixel shuffle and the skip concat
//   are one fused pass per layer; the last layer writes fp32 NCHW directly (tanh, residual).
// Quality: checked against the fp32 module by the engine's PSNR check (synth.bf16_check_images)
// and by tests/synth (>= 40 dB).
#pragma once

#include "models/cyclegan/networks.h"
#include "synth/engine.h"

namespace cxrsynth::synth {

// True when make_bf16_unet_translator supports this generator (arch unet).
bool bf16_unet_supported(const models::GeneratorOptions& options);

// The bf16 translator of `net` (a U-Net Generator; throws Error otherwise). Copies the weights
// at construction: later changes to `net` are not seen. Input/output as Translator (fp32 NCHW,
// [-1, 1]); called from one thread at a time.
Translator make_bf16_unet_translator(const models::Generator& net);

}  // namespace cxrsynth::synth
