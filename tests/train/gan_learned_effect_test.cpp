// The learned effect on phantoms (PHANTOM-DEMO.md): after a short training, G_A moves the
// lung-opacity score of held-out normal phantoms from the normal mean toward the covid mean,
// while leaving the image outside the lungs about unchanged; an untrained generator does not.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "core/log.h"
#include "gan_test_support.h"
#include "models/cyclegan/generator_io.h"
#include "train/cyclegan_trainer.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
using namespace cxrsynth::train;

namespace {

constexpr int kSize = 32;

struct Effect {
  double normal = 0, covid = 0, translated = 0;  // mean lung-opacity scores
  double outside_change = 0;                     // mean |G(a) - a| outside the lungs, [0, 1]
  double fraction() const { return (translated - normal) / (covid - normal); }
};

GanOptions effect_options() {
  GanOptions o = ct::load_preset("smoke").gan;
  o.batch_size = 1;
  o.load_size = o.crop_size = kSize;
  o.flip = true;
  o.epochs = 10;
  o.steps_per_epoch = 60;
  o.lr_policy = "linear";
  o.decay_epochs = 5;
  o.checkpoint_every = 100000;
  o.sample_every = 0;
  // Measured on this setup: with the smoke preset's lr 2e-4 and identity weight 5 the residual
  // generator is still the identity after 600 steps (PHANTOM-DEMO.md: it starts late); a higher
  // learning rate, no identity loss and a 3-layer, 16-filter discriminator move the score
  // within the budget.
  o.lr = 5e-4;
  o.lambda_identity = 0;
  o.discriminator.filters = 16;
  o.discriminator.layers = 3;
  return o;
}

Effect measure(models::Generator& g) {
  torch::NoGradGuard no_grad;
  Effect e;
  const auto normals = ct::phantom_images(data::PhantomClass::kNormal, 30, kSize, 99);
  const auto covids = ct::phantom_images(data::PhantomClass::kCovid, 30, kSize, 99);
  double outside = 0;
  std::int64_t outside_n = 0;
  for (const auto& im : normals) {
    e.normal += data::lung_opacity_score(im.image, im.lung_mask) / normals.size();
    const auto x = GanDataset::to_tensor({im.image}, kSize, 1);
    const auto y = ((g->forward(x) + 1) / 2).clamp(0, 1).contiguous();
    cv::Mat out(kSize, kSize, CV_32F, y.data_ptr<float>());
    e.translated += data::lung_opacity_score(out, im.lung_mask) / normals.size();
    for (int r = 0; r < kSize; ++r)
      for (int c = 0; c < kSize; ++c)
        if (!im.lung_mask.at<uchar>(r, c)) {
          outside += std::abs(out.at<float>(r, c) - im.image.at<float>(r, c));
          ++outside_n;
        }
  }
  e.outside_change = outside / outside_n;
  for (const auto& im : covids)
    e.covid += data::lung_opacity_score(im.image, im.lung_mask) / covids.size();
  return e;
}

}  // namespace

TEST(GanLearnedEffect, TranslationMovesLungOpacityTowardCovid) {
  set_log_level(LogLevel::kQuiet);
  const GanOptions o = effect_options();
  ct::TempDir dir;
  const auto data = ct::phantom_dataset(o, 90, 90, kSize);
  TrainGanRun run;
  run.task = "normal-vs-covid";
  run.seed = 1;
  train_cyclegan(o, data, run, dir.path());
  auto g = models::load_generator(dir.path());
  const Effect trained = measure(g);
  std::printf(
      "lung opacity: normal %.5f covid %.5f translated %.5f (%.0f%% of the way); "
      "outside-lung change %.5f\n",
      trained.normal, trained.covid, trained.translated, 100 * trained.fraction(),
      trained.outside_change);
  ASSERT_GT(trained.covid, trained.normal);
  EXPECT_GT(trained.fraction(), 0.3);
  EXPECT_LT(trained.fraction(), 2.0);
  EXPECT_LT(trained.outside_change, 0.03);

  // The same assertion fails for an untrained generator with the same architecture.
  torch::manual_seed(1);
  models::Generator untrained(o.generator);
  models::init_weights(*untrained, o.init);
  const Effect before = measure(untrained);
  std::printf("untrained: translated %.5f (%.0f%% of the way)\n", before.translated,
              100 * before.fraction());
  EXPECT_FALSE(before.fraction() > 0.3 && before.fraction() < 2.0 && before.outside_change < 0.03);
}
