#include "models/cyclegan/networks.h"

#include <torch/torch.h>

#include <algorithm>

#include "core/error.h"
#include "models/cyclegan/image_conv.h"
#include "models/cyclegan/resnet_layers.h"

namespace cxrsynth::models {

namespace nn = torch::nn;

namespace {

nn::Conv2d conv(int in, int out, int k, int stride, int pad, bool bias = true) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(bias));
}

// The first and last convolutions of a generator, from and to the image (stride 1, padded
// before): a Conv2d with a faster way from a 1-channel input and to a 1-channel output
// (image_conv.h).
ImageConv2d image_conv(int in, int out, int k) {
  return ImageConv2d(nn::Conv2dOptions(in, out, k).stride(1).padding(0));
}

// keras_contrib InstanceNormalization: affine, epsilon 1e-3 (authors' code).
nn::InstanceNorm2d keras_instance_norm(int c) {
  return nn::InstanceNorm2d(nn::InstanceNorm2dOptions(c).affine(true).eps(1e-3));
}

// Reference CycleGAN: nn.InstanceNorm2d(affine=False, track_running_stats=False), eps 1e-5.
nn::InstanceNorm2d plain_instance_norm(int c) {
  return nn::InstanceNorm2d(nn::InstanceNorm2dOptions(c).affine(false).eps(1e-5));
}

// The ResNet generator's reflection padding and instance norm (eps 1e-5, no affine): the same
// modules computed faster (resnet_layers.h). The discriminators keep ATen's instance norm
// (WGAN-GP differentiates them twice).
FastReflectionPad2d reflect_pad(int p) {
  return FastReflectionPad2d(nn::ReflectionPad2dOptions(p));
}

FastInstanceNorm2d generator_instance_norm(int c) {
  return FastInstanceNorm2d(c, 1e-5);
}

nn::Upsample nearest2() {
  return nn::Upsample(
      nn::UpsampleOptions().scale_factor(std::vector<double>{2.0, 2.0}).mode(torch::kNearest));
}

// Keras padding='same' for a 4x4 kernel at stride 1: 1 before, 2 after (TensorFlow puts the
// odd pixel at the end).
nn::ZeroPad2d keras_same_pad_k4() {
  return nn::ZeroPad2d(nn::ZeroPad2dOptions({1, 2, 1, 2}));
}

nn::LeakyReLU leaky() {
  return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2));
}

}  // namespace

// ---------------------------------------------------------------------------------------------
UnetGeneratorImpl::UnetGeneratorImpl(const GeneratorOptions& o) {
  const int c = o.channels, f = o.filters;
  auto down = [&](int in, int out) {
    return nn::Sequential(conv(in, out, 4, 2, 1), leaky(), keras_instance_norm(out));
  };
  auto up = [&](int in, int out) {
    return nn::Sequential(nearest2(), keras_same_pad_k4(), conv(in, out, 4, 1, 0), nn::ReLU(),
                          keras_instance_norm(out));
  };
  down1_ = register_module("down1", down(c, f));
  down2_ = register_module("down2", down(f, 2 * f));
  down3_ = register_module("down3", down(2 * f, 4 * f));
  down4_ = register_module("down4", down(4 * f, 8 * f));
  up1_ = register_module("up1", up(8 * f, 4 * f));  // concat d3 -> 8f
  up2_ = register_module("up2", up(8 * f, 2 * f));  // concat d2 -> 4f
  up3_ = register_module("up3", up(4 * f, f));      // concat d1 -> 2f
  final_ = register_module("final", nn::Sequential(nearest2(), keras_same_pad_k4(),
                                                   image_conv(2 * f, c, 4), nn::Tanh()));
}

torch::Tensor UnetGeneratorImpl::forward(const torch::Tensor& x) {
  const auto d1 = down1_->forward(x);
  const auto d2 = down2_->forward(d1);
  const auto d3 = down3_->forward(d2);
  const auto d4 = down4_->forward(d3);
  auto u = torch::cat({up1_->forward(d4), d3}, 1);
  u = torch::cat({up2_->forward(u), d2}, 1);
  u = torch::cat({up3_->forward(u), d1}, 1);
  return final_->forward(u);
}

// ---------------------------------------------------------------------------------------------
ResnetBlockImpl::ResnetBlockImpl(int c) {
  conv_block_ = register_module(
      "conv_block",
      nn::Sequential(reflect_pad(1), conv(c, c, 3, 1, 0), generator_instance_norm(c), nn::ReLU(),
                     reflect_pad(1), conv(c, c, 3, 1, 0), generator_instance_norm(c)));
}

torch::Tensor ResnetBlockImpl::forward(const torch::Tensor& x) {
  return x + conv_block_->forward(x);
}

ResnetGeneratorImpl::ResnetGeneratorImpl(const GeneratorOptions& o) {
  const int c = o.channels, f = o.filters;
  nn::Sequential m;
  m->push_back(reflect_pad(3));
  m->push_back(image_conv(c, f, 7));
  m->push_back(generator_instance_norm(f));
  m->push_back(nn::ReLU());
  for (int i = 0; i < 2; ++i) {
    const int mult = 1 << i;
    m->push_back(conv(f * mult, f * mult * 2, 3, 2, 1));
    m->push_back(generator_instance_norm(f * mult * 2));
    m->push_back(nn::ReLU());
  }
  for (int i = 0; i < o.blocks; ++i) m->push_back(ResnetBlock(4 * f));
  for (int i = 0; i < 2; ++i) {
    const int mult = 1 << (2 - i);
    const int in = f * mult, out = f * mult / 2;
    if (o.upsample == "resize-conv") {
      // Nearest x2 then a 3x3 conv: no checkerboard artefacts (PHANTOM-DEMO.md). Sequential
      // indices differ from the transposed layout; the Python reference mirrors both.
      m->push_back(FastUpsampleNearest2x());
      m->push_back(reflect_pad(1));
      m->push_back(conv(in, out, 3, 1, 0));
    } else {
      m->push_back(nn::ConvTranspose2d(
          nn::ConvTranspose2dOptions(in, out, 3).stride(2).padding(1).output_padding(1)));
    }
    m->push_back(generator_instance_norm(out));
    m->push_back(nn::ReLU());
  }
  m->push_back(reflect_pad(3));
  m->push_back(image_conv(f, c, 7));
  m->push_back(nn::Tanh());
  model_ = register_module("model", m);
}

torch::Tensor ResnetGeneratorImpl::forward(const torch::Tensor& x) {
  return model_->forward(x);
}

// ---------------------------------------------------------------------------------------------
AuthorsDiscriminatorImpl::AuthorsDiscriminatorImpl(const DiscriminatorOptions& o, int channels) {
  nn::Sequential m;
  int in = channels;
  for (int i = 0; i < o.layers; ++i) {
    const int out = o.filters * std::min(1 << i, 8);
    m->push_back(conv(in, out, 4, 2, 1));
    m->push_back(leaky());
    if (i > 0) m->push_back(keras_instance_norm(out));
    in = out;
  }
  m->push_back(keras_same_pad_k4());
  m->push_back(conv(in, 1, 4, 1, 0));
  model_ = register_module("model", m);
}

torch::Tensor AuthorsDiscriminatorImpl::forward(const torch::Tensor& x) {
  return model_->forward(x);
}

PatchDiscriminatorImpl::PatchDiscriminatorImpl(const DiscriminatorOptions& o, int channels) {
  nn::Sequential m;
  const int f = o.filters;
  m->push_back(conv(channels, f, 4, 2, 1));
  m->push_back(leaky());
  int mult = 1, prev = 1;
  for (int n = 1; n < o.layers; ++n) {
    prev = mult;
    mult = std::min(1 << n, 8);
    m->push_back(conv(f * prev, f * mult, 4, 2, 1));
    m->push_back(plain_instance_norm(f * mult));
    m->push_back(leaky());
  }
  prev = mult;
  mult = std::min(1 << o.layers, 8);
  m->push_back(conv(f * prev, f * mult, 4, 1, 1));
  m->push_back(plain_instance_norm(f * mult));
  m->push_back(leaky());
  m->push_back(conv(f * mult, 1, 4, 1, 1));
  model_ = register_module("model", m);
}

torch::Tensor PatchDiscriminatorImpl::forward(const torch::Tensor& x) {
  return model_->forward(x);
}

// ---------------------------------------------------------------------------------------------
GeneratorImpl::GeneratorImpl(const GeneratorOptions& options) : options_(options) {
  validate_generator_options(options);
  if (options.arch == "unet") {
    net_ = nn::AnyModule(UnetGenerator(options));
  } else {
    net_ = nn::AnyModule(ResnetGenerator(options));
  }
  register_module("net", net_.ptr());
}

torch::Tensor GeneratorImpl::forward(const torch::Tensor& x) {
  auto y = net_.forward(x);
  if (options_.residual) y = torch::clamp(x + y, -1.0, 1.0);
  return y;
}

DiscriminatorImpl::DiscriminatorImpl(const DiscriminatorOptions& options, int channels)
    : options_(options) {
  validate_discriminator_options(options);
  if (options.arch == "authors") {
    net_ = nn::AnyModule(AuthorsDiscriminator(options, channels));
  } else {
    net_ = nn::AnyModule(PatchDiscriminator(options, channels));
  }
  register_module("net", net_.ptr());
}

torch::Tensor DiscriminatorImpl::forward(const torch::Tensor& x) {
  return net_.forward(x);
}

// ---------------------------------------------------------------------------------------------
void validate_generator_options(const GeneratorOptions& o, int size) {
  if (o.arch != "unet" && o.arch != "resnet")
    throw UsageError(fmt::format("gan.generator.arch: '{}' is not one of unet, resnet", o.arch));
  if (o.channels != 1 && o.channels != 3)
    throw UsageError(fmt::format("gan.generator.channels: {} (expected 1 or 3)", o.channels));
  if (o.filters < 1) throw UsageError(fmt::format("gan.generator.filters: {} < 1", o.filters));
  if (o.blocks < 1) throw UsageError(fmt::format("gan.generator.blocks: {} < 1", o.blocks));
  if (o.upsample != "transposed" && o.upsample != "resize-conv")
    throw UsageError(fmt::format(
        "gan.generator.upsample: '{}' is not one of transposed, resize-conv", o.upsample));
  if (size > 0) {
    const int mult = o.arch == "unet" ? 16 : 4;
    if (size % mult != 0)
      throw UsageError(fmt::format(
          "gan crop size {}: the {} generator needs a multiple of {} (its stride-2 steps)", size,
          o.arch, mult));
  }
}

int discriminator_output_size(const DiscriminatorOptions& o, int size) {
  int s = size;
  // Conv 4x4, stride 2, padding 1: floor((s - 2) / 2) + 1, nothing left below 2 pixels.
  for (int i = 0; i < o.layers; ++i) s = s < 2 ? 0 : (s - 2) / 2 + 1;
  if (o.arch == "patchgan") s -= 2;  // two stride-1 4x4 convs with padding 1
  return std::max(s, 0);
}

void validate_discriminator_options(const DiscriminatorOptions& o, int size) {
  if (o.arch != "authors" && o.arch != "patchgan")
    throw UsageError(
        fmt::format("gan.discriminator.arch: '{}' is not one of authors, patchgan", o.arch));
  if (o.filters < 1) throw UsageError(fmt::format("gan.discriminator.filters: {} < 1", o.filters));
  if (o.layers < 1) throw UsageError(fmt::format("gan.discriminator.layers: {} < 1", o.layers));
  if (size > 0 && discriminator_output_size(o, size) < 1)
    throw UsageError(fmt::format(
        "gan.discriminator.layers: {} stride-2 layers leave no output at {} px; use fewer",
        o.layers, size));
}

void init_weights(torch::nn::Module& module, const std::string& init) {
  CXRSYNTH_CHECK(init == "normal" || init == "glorot",
                 "gan.init: '{}' is not one of normal, glorot", init);
  torch::NoGradGuard no_grad;
  auto init_conv = [&](torch::Tensor& w, torch::Tensor& b) {
    if (init == "normal") {
      nn::init::normal_(w, 0.0, 0.02);
    } else {
      nn::init::xavier_uniform_(w);
    }
    if (b.defined()) nn::init::zeros_(b);
  };
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (auto* c = m->as<nn::Conv2dImpl>()) {
      init_conv(c->weight, c->bias);
    } else if (auto* t = m->as<nn::ConvTranspose2dImpl>()) {
      init_conv(t->weight, t->bias);
    } else if (auto* in = m->as<nn::InstanceNorm2dImpl>()) {
      if (in->options.affine()) {
        nn::init::ones_(in->weight);
        nn::init::zeros_(in->bias);
      }
    }
  }
}

}  // namespace cxrsynth::models
