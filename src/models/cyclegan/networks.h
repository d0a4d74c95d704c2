// The CycleGAN networks (METHOD.md section 2): the authors' U-Net generator and patch
// discriminator, the reference CycleGAN's ResNet generator and 70x70 PatchGAN, and the
// Generator / Discriminator wrappers the trainer and the synthesis stage use.
//
// Shapes and ranges (N = batch, C = GeneratorOptions::channels, S = image side):
//   Generator      in  [N, C, S, S] in [-1, 1]  ->  out [N, C, S, S] in [-1, 1] (tanh, or
//                  input + change clamped to [-1, 1] with residual output).
//                  U-Net: S divisible by 16 (4 stride-2 steps); ResNet: S divisible by 4.
//   Discriminator  in  [N, C, S, S] in [-1, 1]  ->  out [N, 1, P, P] raw scores (logits for the
//                  vanilla loss, regression targets 1/0 for LSGAN). Authors: P = S / 2^layers
//                  (16 at 256 px, 4 stride-2 layers); PatchGAN: P = S / 2^layers - 2
//                  (30 at 256 px, 70x70 receptive field with 3 layers).
//
// Parameter names mirror the Python definitions in scripts/reference/cyclegan_reference.py
// (nn.Sequential indices as in the reference CycleGAN's networks.py), so weights exported from
// here load there unchanged.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/pimpl.h>

#include <string>

#include "models/cyclegan/cyclegan_options.h"

namespace cxrsynth::models {

// Authors' U-Net (Keras, 'same' padding reproduced: k4 s2 pads 1/1, k4 s1 pads 1 before and
// 2 after). down_i: conv 4x4 s2 -> LeakyReLU 0.2 -> InstanceNorm (f, 2f, 4f, 8f);
// up_i: nearest x2 -> conv 4x4 s1 -> ReLU -> InstanceNorm -> concat skip (4f, 2f, f);
// final: nearest x2 -> conv 4x4 -> tanh. InstanceNorm with affine scale/shift (keras_contrib
// default; eps 1e-3 as there). Note: keras_contrib's default axis=None normalises over all
// channels at once; we use per-channel instance norm as METHOD.md describes.
class UnetGeneratorImpl : public torch::nn::Module {
 public:
  explicit UnetGeneratorImpl(const GeneratorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential down1_{nullptr}, down2_{nullptr}, down3_{nullptr}, down4_{nullptr};
  torch::nn::Sequential up1_{nullptr}, up2_{nullptr}, up3_{nullptr}, final_{nullptr};
};
TORCH_MODULE(UnetGenerator);

// Reference ResNet generator (junyanz ResnetGenerator): reflect-pad 3, conv 7x7 f, 2 stride-2
// convs (2f, 4f), `blocks` residual blocks (reflect-pad, conv 3x3, IN, ReLU, reflect-pad,
// conv 3x3, IN; x + block(x)), 2 up steps (transposed conv 3x3 s2, or nearest x2 +
// reflect-pad 1 + conv 3x3) to 2f and f, reflect-pad 3, conv 7x7, tanh. InstanceNorm without
// affine (so every conv has a bias), eps 1e-5.
class ResnetGeneratorImpl : public torch::nn::Module {
 public:
  explicit ResnetGeneratorImpl(const GeneratorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential model_{nullptr};
};
TORCH_MODULE(ResnetGenerator);

class ResnetBlockImpl : public torch::nn::Module {
 public:
  explicit ResnetBlockImpl(int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential conv_block_{nullptr};
};
TORCH_MODULE(ResnetBlock);

// Authors' discriminator: `layers` x (conv 4x4 s2 -> LeakyReLU 0.2 -> InstanceNorm (not on the
// first)), filters f, 2f, 4f, 8f (capped at 8f), then conv 4x4 s1 'same' to 1 channel.
class AuthorsDiscriminatorImpl : public torch::nn::Module {
 public:
  AuthorsDiscriminatorImpl(const DiscriminatorOptions& options, int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential model_{nullptr};
};
TORCH_MODULE(AuthorsDiscriminator);

// Reference NLayerDiscriminator (70x70 PatchGAN with layers = 3): conv 4x4 s2 f -> LeakyReLU;
// (layers - 1) x (conv 4x4 s2 -> IN -> LeakyReLU); conv 4x4 s1 -> IN -> LeakyReLU; conv 4x4
// s1 to 1 channel. Padding 1 everywhere, InstanceNorm without affine.
class PatchDiscriminatorImpl : public torch::nn::Module {
 public:
  PatchDiscriminatorImpl(const DiscriminatorOptions& options, int channels);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Sequential model_{nullptr};
};
TORCH_MODULE(PatchDiscriminator);

// The generator the rest of the code uses: the chosen architecture registered as "net", plus
// the residual-output option (out = clamp(x + net(x), -1, 1)).
class GeneratorImpl : public torch::nn::Module {
 public:
  explicit GeneratorImpl(const GeneratorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  const GeneratorOptions& options() const { return options_; }

 private:
  GeneratorOptions options_;
  torch::nn::AnyModule net_;
};
TORCH_MODULE(Generator);

class DiscriminatorImpl : public torch::nn::Module {
 public:
  DiscriminatorImpl(const DiscriminatorOptions& options, int channels);
  torch::Tensor forward(const torch::Tensor& x);
  const DiscriminatorOptions& options() const { return options_; }

 private:
  DiscriminatorOptions options_;
  torch::nn::AnyModule net_;
};
TORCH_MODULE(Discriminator);

// Throws UsageError naming the key when the options cannot build a network (or when `size`,
// if > 0, does not suit the architecture: U-Net needs a multiple of 2^4, ResNet of 4, the
// discriminator at least one output pixel).
void validate_generator_options(const GeneratorOptions& options, int size = 0);
void validate_discriminator_options(const DiscriminatorOptions& options, int size = 0);

// Weight initialisation. "normal": conv weights N(0, 0.02) (reference CycleGAN init_type
// normal); "glorot": Glorot/Xavier uniform (Keras default, authors' code). Conv biases 0,
// InstanceNorm affine weight 1 and bias 0 in both. Draws from LibTorch's default CPU
// generator: seed it first (torch::manual_seed) for reproducible weights.
void init_weights(torch::nn::Module& module, const std::string& init);

}  // namespace cxrsynth::models
