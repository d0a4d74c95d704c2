// Options of the `train-classifier` stage (the `classifier` config section; torch-free).
// Defaults are the authors' recipe (METHOD.md section 3, paper sec. 4, preset `paper`), except
// that validation uses the manifest's validation split: the authors validated on the test set,
// which is offered only as validation_split = "test" and marked in every output.
#pragma once

#include <string>

#include "config/fields.h"
#include "models/classifiers/classifier_model_options.h"
#include "train/classifier/bgt_options.h"

namespace cxrsynth::train {

struct ClassifierOptions {
  models::ClassifierModelOptions model;  // Source: paper sec. 4
  std::string weights;                   // torchvision weights file; "" = random init. Source: ours
  int image_size = 0;                    // 0 = as prepared (paper: 256). Source: paper sec. 4
  int batch_size = 16;                   // Source: authors' code
  int max_epochs = 200;                  // Source: authors' code
  int steps_per_epoch = 0;               // 0 = one pass over the training set. Source: ours
  double lr = 1e-3;                      // Adadelta. Source: authors' code (Keras)
  double rho = 0.95;                     // Source: Keras Adadelta default
  double eps = 1e-7;                     // Source: Keras Adadelta default
  double plateau_factor = 0.1;           // ReduceLROnPlateau. Source: authors' code
  int plateau_patience = 5;              // Source: authors' code
  double plateau_min_delta = 1e-4;       // Source: Keras ReduceLROnPlateau default
  double min_lr = 0.0;                   // Source: Keras ReduceLROnPlateau default
  int early_stopping_patience = 15;      // Source: authors' code
  double early_stopping_min_delta = 0.0;  // Source: Keras EarlyStopping default
  bool restore_best = true;               // Source: authors' code (restore_best_weights)
  std::string validation_split = "val";   // "val" (ours) | "test" (authors' code, flagged)
  std::string class_weights = "none";     // none (authors' code) | balanced. Source: ours
  bool flip = false;                      // horizontal flip augmentation; authors: none
  int eval_batch_size = 32;               // Source: ours
  BgtOptions bgt;  // arch densenet121-bgt / densenet-bgt only (bgt_options.h)
};

template <class V>
void visit_fields(V& v, ClassifierOptions& o) {
  using config::Doc;
  v.section("model", o.model);
  v.field("weights", o.weights,
          Doc("Torchvision weights file from scripts/export_torchvision.py (the paper used "
              "ImageNet weights; nothing is downloaded); empty = torchvision's random init",
              "paper sec. 4; ours"));
  v.field("image_size", o.image_size,
          Doc("Side of the classifier input in pixels; 0 = the prepared images' size (paper: "
              "256)",
              "paper sec. 4")
              .range(0, 4096));
  v.field("batch_size", o.batch_size, Doc("Training batch size", "authors' code").range(1, 4096));
  v.field("max_epochs", o.max_epochs,
          Doc("Most training epochs (early stopping usually ends sooner)", "authors' code")
              .range(1, 100000));
  v.field("steps_per_epoch", o.steps_per_epoch,
          Doc("Batches per epoch; 0 = one pass over the training set", "ours").range(0, 1e9));
  v.field("lr", o.lr, Doc("Adadelta learning rate", "authors' code (Keras)").range(0, 10));
  v.field("rho", o.rho,
          Doc("Adadelta decay rho (Keras 0.95; LibTorch's default 0.9 differs)", "Keras default")
              .range(0, 1));
  v.field("eps", o.eps,
          Doc("Adadelta epsilon (Keras 1e-7; LibTorch's default 1e-6 differs)", "Keras default")
              .range(0, 1));
  v.field("plateau_factor", o.plateau_factor,
          Doc("ReduceLROnPlateau factor on validation loss", "authors' code").range(0, 1));
  v.field("plateau_patience", o.plateau_patience,
          Doc("ReduceLROnPlateau patience, epochs", "authors' code").range(0, 100000));
  v.field(
      "plateau_min_delta", o.plateau_min_delta,
      Doc("ReduceLROnPlateau: smallest decrease of validation loss that counts", "Keras default")
          .range(0, 1e9));
  v.field("min_lr", o.min_lr,
          Doc("ReduceLROnPlateau lower bound on the learning rate", "Keras default").range(0, 10));
  v.field(
      "early_stopping_patience", o.early_stopping_patience,
      Doc("Early stopping patience on validation loss, epochs", "authors' code").range(0, 100000));
  v.field("early_stopping_min_delta", o.early_stopping_min_delta,
          Doc("Early stopping: smallest decrease of validation loss that counts", "Keras default")
              .range(0, 1e9));
  v.field("restore_best", o.restore_best,
          Doc("Keep the weights of the epoch with the lowest validation loss (Keras restores "
              "them only when stopping early; we always do)",
              "authors' code; ours"));
  v.field("validation_split", o.validation_split,
          Doc("Manifest split used for validation: val (ours), or test (the authors' code: "
              "early stopping and LR schedule see the test set; results are marked)",
              "ours; authors' code")
              .one_of({"val", "test"}));
  v.field("class_weights", o.class_weights,
          Doc("Loss class weights: none (authors' code) or balanced (n / (2 n_class))", "ours")
              .one_of({"none", "balanced"}));
  v.field("flip", o.flip,
          Doc("Random horizontal flip of training images (authors: no augmentation)", "ours"));
  v.field("eval_batch_size", o.eval_batch_size,
          Doc("Batch size for validation and prediction", "ours").range(1, 4096));
  v.section("bgt", o.bgt);
}

}  // namespace cxrsynth::train
