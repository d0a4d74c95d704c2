// The CycleGAN objective against a PyTorch (Python) reference, the checkpoint container, the
// schedule, the image pool and the presets (METHOD.md section 2).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <fstream>
#include <map>

#include "core/error.h"
#include "core/seed.h"
#include "gan_test_support.h"
#include "train/checkpoint.h"
#include "train/cyclegan_step.h"
#include "train/cyclegan_trainer.h"
#include "train/gan_losses.h"
#include "train/image_pool.h"
#include "train/lr_schedule.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
using namespace cxrsynth::train;

namespace {

GanOptions tiny(const std::string& g_arch, const std::string& d_arch) {
  GanOptions o;
  o.generator.arch = g_arch;
  o.generator.filters = 4;
  o.generator.blocks = 2;
  o.discriminator.arch = d_arch;
  o.discriminator.filters = 4;
  o.discriminator.layers = d_arch == "authors" ? 3 : 2;
  o.load_size = o.crop_size = 32;
  return o;
}

std::map<std::string, double> read_pairs(const fs::path& p) {
  std::map<std::string, double> m;
  std::ifstream in(p);
  std::string k;
  double v;
  while (in >> k >> v) m[k] = v;
  return m;
}

constexpr std::uint64_t kStepSeed = 77;

// Runs the trainer's step (cyclegan_step: objective and one Adam step of each optimiser, no
// pool) in C++, the same in Python, and compares every loss term.
void compare_with_python(const GanOptions& o, const std::string& label) {
  if (!fs::exists(CXRSYNTH_PYTHON)) GTEST_SKIP() << CXRSYNTH_PYTHON << " not found";
  const fs::path script = ct::source_dir() / "scripts/reference/cyclegan_reference.py";
  ct::TempDir dir;
  torch::manual_seed(5);
  CycleGanNets nets = make_nets(o);
  const int c = o.generator.channels;
  const auto real_a = torch::rand({2, c, 32, 32}) * 2 - 1;
  const auto real_b = torch::rand({2, c, 32, 32}) * 2 - 1;

  StateArchive a;
  a.put_string("opt/generator.arch", o.generator.arch);
  a.put_string("opt/generator.channels", std::to_string(c));
  a.put_string("opt/generator.filters", std::to_string(o.generator.filters));
  a.put_string("opt/generator.blocks", std::to_string(o.generator.blocks));
  a.put_string("opt/generator.upsample", o.generator.upsample);
  a.put_string("opt/generator.residual", o.generator.residual ? "true" : "false");
  a.put_string("opt/discriminator.arch", o.discriminator.arch);
  a.put_string("opt/discriminator.filters", std::to_string(o.discriminator.filters));
  a.put_string("opt/discriminator.layers", std::to_string(o.discriminator.layers));
  a.put_string("opt/adv_loss", o.adv_loss);
  a.put_string("opt/lambda_cycle", fmt::format("{}", o.lambda_cycle));
  a.put_string("opt/lambda_identity", fmt::format("{}", o.lambda_identity));
  a.put_string("opt/lr", fmt::format("{}", o.lr));
  a.put_string("opt/beta1", fmt::format("{}", o.beta1));
  a.put_string("opt/beta2", fmt::format("{}", o.beta2));
  const std::pair<const char*, torch::nn::Module*> named[] = {{"G_A", nets.g_a.get()},
                                                              {"G_B", nets.g_b.get()},
                                                              {"D_A", nets.d_a.get()},
                                                              {"D_B", nets.d_b.get()}};
  for (const auto& [name, m] : named)
    for (const auto& p : m->named_parameters())
      a.put_tensor(std::string(name) + "/param/" + p.key(), p.value());
  a.put_string("opt/lambda_gp", fmt::format("{}", o.lambda_gp));
  a.put_tensor("real_a", real_a);
  a.put_tensor("real_b", real_b);
  // The wgan-gp interpolation weights cyclegan_step draws (no pool draws at pool size 0):
  // D_B's batch, then D_A's.
  Rng alpha_rng(kStepSeed);
  std::vector<float> alpha(4);
  for (auto& x : alpha) x = static_cast<float>(alpha_rng.uniform());
  a.put_tensor("alpha_b", torch::tensor(std::vector<float>(alpha.begin(), alpha.begin() + 2)));
  a.put_tensor("alpha_a", torch::tensor(std::vector<float>(alpha.begin() + 2, alpha.end())));
  a.save(dir / "in.state");
  const std::string cmd = fmt::format("{} {} {} {} 2>&1", CXRSYNTH_PYTHON, script.string(),
                                      (dir / "in.state").string(), (dir / "out.txt").string());
  const int rc = std::system(cmd.c_str());
  if (rc != 0 &&
      std::system(fmt::format("{} -c 'import torch' >/dev/null 2>&1", CXRSYNTH_PYTHON).c_str()) !=
          0)
    GTEST_SKIP() << "Python torch is not importable";
  ASSERT_EQ(rc, 0) << cmd;
  const auto py = read_pairs(dir / "out.txt");

  // The same sequence in C++ (the trainer's step without the pool).
  std::map<std::string, double> cc;
  auto record = [&](const std::string& tag, const GeneratorPass& p) {
    cc[tag + "g_adv_a"] = p.g_adv_a.item<double>();
    cc[tag + "g_adv_b"] = p.g_adv_b.item<double>();
    cc[tag + "cycle_a"] = p.cycle_a.item<double>();
    cc[tag + "cycle_b"] = p.cycle_b.item<double>();
    cc[tag + "idt_a"] = p.idt_a.item<double>();
    cc[tag + "idt_b"] = p.idt_b.item<double>();
    cc[tag + "g_total"] = p.g_total.item<double>();
  };
  auto adam = [&](std::vector<torch::Tensor> ps) {
    return torch::optim::Adam(ps, torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}));
  };
  auto pg = nets.g_a->parameters();
  for (auto& p : nets.g_b->parameters()) pg.push_back(p);
  auto pd = nets.d_a->parameters();
  for (auto& p : nets.d_b->parameters()) pd.push_back(p);
  auto opt_g = adam(pg), opt_d = adam(pd);
  ImagePool pool_a(0), pool_b(0);
  Rng rng(kStepSeed);
  const auto s = cyclegan_step(nets, opt_g, opt_d, pool_a, pool_b, real_a, real_b, rng, o);
  cc["g_adv_a"] = s.g_adv_a.item<double>();
  cc["g_adv_b"] = s.g_adv_b.item<double>();
  cc["cycle_a"] = s.cycle_a.item<double>();
  cc["cycle_b"] = s.cycle_b.item<double>();
  cc["idt_a"] = s.idt_a.item<double>();
  cc["idt_b"] = s.idt_b.item<double>();
  cc["g_total"] = s.g_total.item<double>();
  cc["d_a"] = s.d_a.item<double>();
  cc["d_b"] = s.d_b.item<double>();
  if (s.gp_a.defined()) cc["gp_a"] = s.gp_a.item<double>();
  if (s.gp_b.defined()) cc["gp_b"] = s.gp_b.item<double>();
  {
    torch::NoGradGuard no_grad;
    record("after_", generator_pass(nets, real_a, real_b, o));
    cc["after_d_b_real"] = nets.d_b->forward(real_b).mean().item<double>();
  }
  ASSERT_EQ(py.size(), cc.size()) << label;
  for (const auto& [k, v] : cc) {
    ASSERT_TRUE(py.count(k)) << label << ": Python did not report " << k;
    EXPECT_NEAR(v, py.at(k), 1e-5 + 1e-5 * std::abs(v)) << label << ": " << k;
  }
}

}  // namespace

TEST(GanObjective, MatchesPyTorchReferenceResnetPatchGanLsgan) {
  auto o = tiny("resnet", "patchgan");
  o.lambda_identity = 5.0;
  o.init = "normal";
  compare_with_python(o, "resnet/patchgan/lsgan");
}

TEST(GanObjective, MatchesPyTorchReferenceUnetAuthorsVanilla) {
  auto o = tiny("unet", "authors");
  o.adv_loss = "vanilla";
  compare_with_python(o, "unet/authors/vanilla");
}

TEST(GanObjective, MatchesPyTorchReferenceResizeConvResidualRgb) {
  auto o = tiny("resnet", "patchgan");
  o.generator.upsample = "resize-conv";
  o.generator.residual = true;
  o.generator.channels = 3;
  o.lambda_identity = 0.0;
  compare_with_python(o, "resnet resize-conv residual rgb");
}

TEST(GanObjective, MatchesPyTorchReferenceWganGp) {
  auto o = tiny("resnet", "patchgan");
  o.adv_loss = "wgan-gp";
  o.lambda_identity = 5.0;
  o.init = "normal";
  compare_with_python(o, "resnet/patchgan/wgan-gp");
}

TEST(GanObjective, MatchesPyTorchReferenceWganGpUnetAuthors) {
  auto o = tiny("unet", "authors");
  o.adv_loss = "wgan-gp";
  o.lambda_gp = 3.5;
  compare_with_python(o, "unet/authors/wgan-gp");
}

TEST(GanObjective, AdversarialLossValues) {
  const auto pred = torch::tensor({0.5f, 2.0f});
  EXPECT_NEAR(adversarial_loss(pred, true, "lsgan").item<double>(), (0.25 + 1.0) / 2, 1e-7);
  EXPECT_NEAR(adversarial_loss(pred, false, "lsgan").item<double>(), (0.25 + 4.0) / 2, 1e-7);
  const double bce = (std::log1p(std::exp(-0.5)) + std::log1p(std::exp(-2.0))) / 2;
  EXPECT_NEAR(adversarial_loss(pred, true, "vanilla").item<double>(), bce, 1e-6);
  EXPECT_NEAR(adversarial_loss(pred, true, "wgan-gp").item<double>(), -1.25, 1e-7);
  EXPECT_NEAR(adversarial_loss(pred, false, "wgan-gp").item<double>(), 1.25, 1e-7);
  EXPECT_THROW(adversarial_loss(pred, true, "hinge"), UsageError);
}

TEST(StateArchiveTest, RoundTripAndChecksum) {
  ct::TempDir dir;
  StateArchive a;
  a.put_string("s", "hello");
  a.put_int("i", -42);
  a.put_tensor("f", torch::arange(6, torch::kFloat).reshape({2, 3}));
  a.put_tensor("u", torch::tensor({1, 2, 255}, torch::kUInt8));
  a.put_tensor("scalar", torch::tensor(3.5, torch::kDouble));
  a.save(dir / "x.pt");
  const auto b = StateArchive::load(dir / "x.pt");
  EXPECT_EQ(b.string("s"), "hello");
  EXPECT_EQ(b.integer("i"), -42);
  EXPECT_TRUE(torch::equal(b.tensor("f"), a.tensor("f")));
  EXPECT_TRUE(torch::equal(b.tensor("u"), a.tensor("u")));
  EXPECT_EQ(b.tensor("scalar").dim(), 0);
  EXPECT_EQ(b.names(), a.names());
  EXPECT_EQ(b.serialize(), a.serialize());
  EXPECT_THROW(b.tensor("missing"), Error);
  EXPECT_THROW(b.string("i"), Error);

  std::string bytes = a.serialize();
  bytes[bytes.size() - 3] ^= 1;  // one flipped bit in the data
  try {
    StateArchive::parse(bytes, "ckpt");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum mismatch"), std::string::npos);
  }
  EXPECT_THROW(StateArchive::parse(a.serialize().substr(0, 100), "ckpt"), Error);
  EXPECT_THROW(StateArchive::parse("PK\x03\x04 not ours", "ckpt"), Error);
}

TEST(LrSchedule, ConstantAndReferenceLinearDecay) {
  GanOptions o;
  EXPECT_EQ(lr_factor(o, 0), 1.0);
  EXPECT_EQ(lr_factor(o, 99), 1.0);
  o.lr_policy = "linear";
  o.epochs = 200;
  o.decay_epochs = 100;
  EXPECT_EQ(lr_factor(o, 0), 1.0);
  EXPECT_EQ(lr_factor(o, 98), 1.0);
  EXPECT_NEAR(lr_factor(o, 99), 1.0, 1e-12);               // 100th epoch: still constant
  EXPECT_NEAR(lr_factor(o, 100), 1.0 - 1.0 / 101, 1e-12);  // reference lambda_rule
  EXPECT_NEAR(lr_factor(o, 199), 1.0 / 101, 1e-12);
  EXPECT_EQ(lr_factor(o, 250), 0.0);
}

TEST(ImagePoolTest, FillsThenSwapsAndRestores) {
  ImagePool off(0);
  Rng rng(1);
  const auto x = torch::rand({3, 1, 4, 4});
  EXPECT_TRUE(torch::equal(off.query(x, rng), x));
  EXPECT_EQ(off.count(), 0);

  ImagePool pool(2);
  const auto first = pool.query(x.slice(0, 0, 2), rng);
  EXPECT_TRUE(torch::equal(first, x.slice(0, 0, 2)));  // filling: returns the new images
  EXPECT_EQ(pool.count(), 2);
  int from_pool = 0;
  for (int i = 0; i < 40; ++i) {
    const auto y = torch::full({1, 1, 4, 4}, float(i + 10));
    const auto out = pool.query(y, rng);
    if (!torch::equal(out, y)) ++from_pool;
  }
  EXPECT_GT(from_pool, 8);  // about half come from the pool
  EXPECT_LT(from_pool, 32);
  ImagePool copy(2);
  copy.restore(pool.contents());
  EXPECT_TRUE(torch::equal(copy.contents(), pool.contents()));
  ImagePool tiny(1);
  EXPECT_THROW(tiny.restore(pool.contents()), Error);
}

TEST(GanPresets, PaperMatchesTheAuthorsCode) {
  const auto g = ct::load_preset("paper").gan;  // METHOD.md section 2, left column
  EXPECT_EQ(g.generator.arch, "unet");
  EXPECT_EQ(g.generator.filters, 32);
  EXPECT_EQ(g.generator.channels, 1);
  EXPECT_FALSE(g.generator.residual);
  EXPECT_EQ(g.discriminator.arch, "authors");
  EXPECT_EQ(g.discriminator.filters, 64);
  EXPECT_EQ(g.discriminator.layers, 4);
  EXPECT_EQ(models::discriminator_output_size(g.discriminator, 256), 16);
  EXPECT_EQ(g.load_size, 256);
  EXPECT_EQ(g.crop_size, 256);
  EXPECT_TRUE(g.flip);
  EXPECT_EQ(g.adv_loss, "lsgan");
  EXPECT_EQ(g.lambda_cycle, 10.0);
  EXPECT_EQ(g.lambda_identity, 1.0);
  EXPECT_EQ(g.pool_size, 0);
  EXPECT_EQ(g.lr, 2e-4);
  EXPECT_EQ(g.beta1, 0.5);
  EXPECT_EQ(g.beta2, 0.999);
  EXPECT_EQ(g.lr_policy, "constant");
  EXPECT_EQ(g.batch_size, 16);
  EXPECT_EQ(g.epochs, 100);
  EXPECT_EQ(g.steps_per_epoch, 10);
  EXPECT_EQ(g.init, "glorot");
  EXPECT_NO_THROW(validate_gan_options(g));
  // The defaults are the authors' code too.
  const GanOptions d;
  EXPECT_EQ(checkpoint_options_text(d, "t", 0, ""), checkpoint_options_text(g, "t", 0, ""));
}

TEST(GanPresets, ReferenceMatchesReferenceCycleGan) {
  const auto g = ct::load_preset("reference").gan;  // METHOD.md section 2, right column
  EXPECT_EQ(g.generator.arch, "resnet");
  EXPECT_EQ(g.generator.filters, 64);
  EXPECT_EQ(g.generator.blocks, 9);
  EXPECT_EQ(g.generator.upsample, "transposed");
  EXPECT_FALSE(g.generator.residual);
  EXPECT_EQ(g.discriminator.arch, "patchgan");
  EXPECT_EQ(g.discriminator.filters, 64);
  EXPECT_EQ(g.discriminator.layers, 3);
  EXPECT_EQ(g.load_size, 286);
  EXPECT_EQ(g.crop_size, 256);
  EXPECT_TRUE(g.flip);
  EXPECT_EQ(g.adv_loss, "lsgan");
  EXPECT_EQ(g.lambda_cycle, 10.0);
  EXPECT_EQ(g.lambda_identity, 0.5 * g.lambda_cycle);
  EXPECT_EQ(g.pool_size, 50);
  EXPECT_EQ(g.lr, 2e-4);
  EXPECT_EQ(g.beta1, 0.5);
  EXPECT_EQ(g.lr_policy, "linear");
  EXPECT_EQ(g.epochs, 200);
  EXPECT_EQ(g.decay_epochs, 100);
  EXPECT_EQ(g.batch_size, 1);
  EXPECT_EQ(g.steps_per_epoch, 0);  // one pass over the larger domain
  EXPECT_EQ(resolved_steps_per_epoch(g, 180, 180), 180);
  EXPECT_EQ(g.init, "normal");
  EXPECT_NO_THROW(validate_gan_options(g));
}

TEST(GanPresets, SmallPresetsValidate) {
  for (const std::string name : {"cpu-small", "smoke"}) {
    const auto g = ct::load_preset(name).gan;
    EXPECT_NO_THROW(validate_gan_options(g)) << name;
    EXPECT_TRUE(g.generator.residual) << name << ": PHANTOM-DEMO.md";
    EXPECT_EQ(g.generator.upsample, "resize-conv") << name;
  }
}

TEST(GanPresets, InconsistentOptionsAreRefused) {
  GanOptions o;
  o.crop_size = 300;
  EXPECT_THROW(validate_gan_options(o), UsageError);
  o = GanOptions{};
  o.crop_size = o.load_size = 200;  // U-Net needs a multiple of 16
  EXPECT_THROW(validate_gan_options(o), UsageError);
  o = GanOptions{};
  o.lr_policy = "linear";  // needs decay_epochs
  EXPECT_THROW(validate_gan_options(o), UsageError);
  o.decay_epochs = 101;
  EXPECT_THROW(validate_gan_options(o), UsageError);
}
