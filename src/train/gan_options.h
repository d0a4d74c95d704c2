// Options of the `train-gan` stage (the `gan` config section; torch-free). Defaults are the
// authors' code (METHOD.md section 2, preset `paper`); configs/reference.json holds the
// reference CycleGAN (junyanz/pytorch-CycleGAN-and-pix2pix), configs/cpu-small.json and
// configs/smoke.json the small presets.
#pragma once

#include <string>

#include "config/fields.h"
#include "models/cyclegan/cyclegan_options.h"

namespace cxrsynth::train {

struct GanOptions {
  models::GeneratorOptions generator;          // Source: authors' code (U-Net, 32 filters)
  models::DiscriminatorOptions discriminator;  // Source: authors' code (64 filters, 4 layers)
  std::string init = "glorot";         // Source: authors' code (Keras default glorot_uniform)
  std::string adv_loss = "lsgan";      // Source: authors' code (MSE)
  double lambda_gp = 10.0;             // Source: reference CycleGAN (cal_gradient_penalty)
  double lambda_cycle = 10.0;          // Source: paper sec. 3; authors' code
  double lambda_identity = 1.0;        // Source: authors' code (0.1 x lambda)
  int pool_size = 0;                   // Source: authors' code (no pool)
  double lr = 2e-4;                    // Source: authors' code; reference CycleGAN
  double beta1 = 0.5;                  // Source: authors' code; reference CycleGAN
  double beta2 = 0.999;                // Source: authors' code; reference CycleGAN
  std::string lr_policy = "constant";  // Source: authors' code
  int decay_epochs = 0;                // Source: authors' code (no decay)
  int batch_size = 16;                 // Source: authors' code
  int epochs = 100;                    // Source: authors' code
  int steps_per_epoch = 10;            // Source: authors' code (their loop runs 10 batches)
  int load_size = 256;                 // Source: paper sec. 4; authors' code
  int crop_size = 256;                 // Source: authors' code (no crop)
  bool flip = true;                    // Source: authors' code
  int checkpoint_every = 100;          // Source: ours
  int sample_every = 100;              // Source: ours
  int samples = 4;                     // Source: ours
};

template <class V>
void visit_fields(V& v, GanOptions& o) {
  using config::Doc;
  v.section("generator", o.generator);
  v.section("discriminator", o.discriminator);
  v.field("init", o.init,
          Doc("Weight init: glorot (Keras default, authors' code) or normal N(0, 0.02) "
              "(reference CycleGAN)",
              "authors' code")
              .one_of({"glorot", "normal"}));
  v.field("adv_loss", o.adv_loss,
          Doc("Adversarial loss: lsgan (MSE to targets 1/0; authors' code and reference), "
              "vanilla (log loss of eq. 1-2, on logits) or wgan-gp (critic scores: G loss "
              "-mean D(fake), D loss 0.5 * (mean D(fake) - mean D(real) + gradient penalty); "
              "reference CycleGAN option)",
              "authors' code")
              .one_of({"lsgan", "vanilla", "wgan-gp"}));
  v.field("lambda_gp", o.lambda_gp,
          Doc("wgan-gp only: gradient-penalty weight, lambda * (||dD/dx||_2 - 1)^2 on "
              "real/fake interpolates (reference CycleGAN cal_gradient_penalty default and the "
              "WGAN-GP paper: 10; the reference's cycle_gan_model defines but never applies it, "
              "ours does); 0 = plain WGAN critic loss",
              "reference CycleGAN")
              .range(0, 1000));
  v.field("lambda_cycle", o.lambda_cycle,
          Doc("Cycle-consistency weight lambda (eq. 3-5)", "paper sec. 3; authors' code")
              .range(0, 1000));
  v.field("lambda_identity", o.lambda_identity,
          Doc("Identity-loss weight, absolute (authors: 1.0 = 0.1 x lambda; reference: "
              "0.5 x lambda = 5); 0 = off",
              "authors' code")
              .range(0, 1000));
  v.field("pool_size", o.pool_size,
          Doc("Image pool of past fakes shown to the discriminators (0 = off; reference: 50)",
              "authors' code")
              .range(0, 100000));
  v.field("lr", o.lr, Doc("Adam learning rate", "authors' code; reference CycleGAN").range(0, 1));
  v.field("beta1", o.beta1, Doc("Adam beta1", "authors' code; reference CycleGAN").range(0, 1));
  v.field("beta2", o.beta2, Doc("Adam beta2", "authors' code; reference CycleGAN").range(0, 1));
  v.field("lr_policy", o.lr_policy,
          Doc("Learning-rate schedule: constant, or linear (constant, then linear decay to zero "
              "over the last decay_epochs epochs, reference CycleGAN formula)",
              "authors' code")
              .one_of({"constant", "linear"}));
  v.field("decay_epochs", o.decay_epochs,
          Doc("Epochs of linear decay at the end of training (linear policy only; reference: "
              "100 of 200)",
              "authors' code")
              .range(0, 1000000));
  v.field("batch_size", o.batch_size,
          Doc("Images per domain per step (authors: 16; reference: 1)", "authors' code")
              .range(1, 4096));
  v.field("epochs", o.epochs,
          Doc("Training epochs (authors: 100; reference: 200)", "authors' code").range(1, 1000000));
  v.field("steps_per_epoch", o.steps_per_epoch,
          Doc("Steps per epoch; 0 = max(|A|, |B|) / batch_size (reference: one pass over the "
              "larger domain; authors: 10)",
              "authors' code")
              .range(0, 100000000));
  v.field("load_size", o.load_size,
          Doc("Images are resized to load_size x load_size (reference: 286)", "authors' code")
              .range(8, 8192));
  v.field("crop_size", o.crop_size,
          Doc("Random crop to crop_size x crop_size after resizing (reference: 256); the "
              "training image size",
              "authors' code")
              .range(8, 8192));
  v.field("flip", o.flip, Doc("Random horizontal flips", "authors' code"));
  v.field("checkpoint_every", o.checkpoint_every,
          Doc("Write checkpoint.pt every N steps (and at the end)", "ours").range(1, 100000000));
  v.field("sample_every", o.sample_every,
          Doc("Write a sample grid every N steps (and at the end); 0 = only at the end", "ours")
              .range(0, 100000000));
  v.field("samples", o.samples,
          Doc("Rows in a sample grid (fixed training images of each domain)", "ours").range(1, 64));
}

// Checks cross-field consistency (crop <= load, crop suits the architecture, the decay fits the
// epochs); throws UsageError naming the key. Range checks happen when the config is parsed.
void validate_gan_options(const GanOptions& o);

// Total training steps: epochs x steps per epoch (resolved against the domain sizes).
int resolved_steps_per_epoch(const GanOptions& o, int size_a, int size_b);

}  // namespace cxrsynth::train
