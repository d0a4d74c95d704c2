// Shapes, ranges and parameter layout of the CycleGAN networks (METHOD.md section 2).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/error.h"
#include "models/cyclegan/generator_io.h"
#include "models/cyclegan/networks.h"
#include "support/temp_dir.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
using namespace cxrsynth::models;

namespace {

GeneratorOptions gen(const std::string& arch, int filters, int channels = 1) {
  GeneratorOptions o;
  o.arch = arch;
  o.filters = filters;
  o.channels = channels;
  o.blocks = 2;
  return o;
}

std::int64_t count_params(torch::nn::Module& m) {
  std::int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}

}  // namespace

TEST(CycleGanNetworks, GeneratorsKeepShapeAndRange) {
  torch::manual_seed(1);
  for (const std::string arch : {"unet", "resnet"}) {
    for (const std::string up : {"transposed", "resize-conv"}) {
      for (bool residual : {false, true}) {
        for (int channels : {1, 3}) {
          auto o = gen(arch, 4, channels);
          o.upsample = up;
          o.residual = residual;
          Generator g(o);
          init_weights(*g, "normal");
          for (int size : {32, 64}) {
            const auto x = torch::rand({2, channels, size, size}) * 2 - 1;
            const auto y = g->forward(x);
            EXPECT_EQ(y.sizes(), x.sizes()) << arch << " " << up << " " << size;
            EXPECT_LE(y.abs().max().item<float>(), 1.0f);
          }
        }
      }
    }
  }
}

TEST(CycleGanNetworks, DiscriminatorPatchSizes) {
  DiscriminatorOptions authors;  // 4 stride-2 layers: 16x16 at 256 (METHOD.md)
  EXPECT_EQ(discriminator_output_size(authors, 256), 16);
  DiscriminatorOptions patch;
  patch.arch = "patchgan";
  patch.layers = 3;  // 70x70 PatchGAN: 30x30 at 256
  EXPECT_EQ(discriminator_output_size(patch, 256), 30);
  for (const auto& o : {authors, patch}) {
    auto small = o;
    small.filters = 4;
    Discriminator d(small, 1);
    for (int size : {32, 64}) {
      const auto y = d->forward(torch::zeros({2, 1, size, size}));
      const int p = discriminator_output_size(small, size);
      EXPECT_EQ(y.sizes(), (std::vector<int64_t>{2, 1, p, p})) << o.arch << " " << size;
    }
  }
}

TEST(CycleGanNetworks, ReferenceSizesMatchPublishedCounts) {
  // Reference ResNet-9 generator, 64 filters, 1 channel: 11.4 M parameters (PERFORMANCE.md);
  // 70x70 PatchGAN, 64 filters: 2.8 M.
  GeneratorOptions g;
  g.arch = "resnet";
  g.filters = 64;
  g.blocks = 9;
  Generator gen_ref(g);
  EXPECT_NEAR(count_params(*gen_ref) / 1e6, 11.4, 0.05);
  DiscriminatorOptions d;
  d.arch = "patchgan";
  d.layers = 3;
  Discriminator disc(d, 1);
  EXPECT_NEAR(count_params(*disc) / 1e6, 2.76, 0.05);
  // Authors' U-Net: 32 filters, conv 4x4 everywhere.
  Generator unet(GeneratorOptions{});
  EXPECT_EQ(unet->named_parameters().size(), 4 * 4 + 3 * 4 + 2u);
}

TEST(CycleGanNetworks, InitialisationIsSeededAndFollowsTheScheme) {
  auto o = gen("resnet", 8);
  torch::manual_seed(7);
  Generator a(o);
  init_weights(*a, "normal");
  torch::manual_seed(7);
  Generator b(o);
  init_weights(*b, "normal");
  for (std::size_t i = 0; i < a->parameters().size(); ++i)
    EXPECT_TRUE(torch::equal(a->parameters()[i], b->parameters()[i]));
  const auto w = a->named_parameters()["net.model.1.weight"];
  EXPECT_NEAR(w.std().item<double>(), 0.02, 0.004);
  EXPECT_EQ(a->named_parameters()["net.model.1.bias"].abs().sum().item<double>(), 0.0);
  init_weights(*a, "glorot");  // bound sqrt(6 / (fan_in + fan_out)) = sqrt(6 / (49 + 392))
  EXPECT_LE(w.abs().max().item<double>(), std::sqrt(6.0 / (49 + 392)) + 1e-6);
  EXPECT_THROW(init_weights(*a, "he"), Error);
}

TEST(CycleGanNetworks, ValidationNamesTheKey) {
  auto o = gen("unet", 8);
  try {
    validate_generator_options(o, 40);
    FAIL();
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("multiple of 16"), std::string::npos);
  }
  o.arch = "vgg";
  EXPECT_THROW(validate_generator_options(o), UsageError);
  DiscriminatorOptions d;
  d.layers = 6;
  EXPECT_THROW(validate_discriminator_options(d, 32), UsageError);
}

TEST(CycleGanNetworks, SavedGeneratorLoadsWithItsArchitecture) {
  ct::TempDir dir;
  auto o = gen("resnet", 4);
  o.upsample = "resize-conv";
  o.residual = true;
  torch::manual_seed(3);
  Generator g(o);
  init_weights(*g, "normal");
  save_generator(dir.path(), g, {o, 32, "normal-vs-covid", 12});
  SavedGeneratorInfo info;
  Generator back = load_generator(dir.path(), &info);
  EXPECT_EQ(info.options.upsample, "resize-conv");
  EXPECT_TRUE(info.options.residual);
  EXPECT_EQ(info.image_size, 32);
  EXPECT_EQ(info.step, 12);
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({1, 1, 32, 32}) * 2 - 1;
  EXPECT_TRUE(torch::equal(g->forward(x), back->forward(x)));
  ct::write_text(dir / "generator.json", "{\"format\": \"other\"}");
  EXPECT_THROW(load_generator(dir.path()), Error);
}
