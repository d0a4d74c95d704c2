// "DenseNet-121 + BGT" (paper sec. 4, after Kassani et al. 2020): the global-average-pooled
// features of a DenseNet, fed to a bagging ensemble of decision trees (models/bgt); P(COVID-19)
// is the fraction of trees voting COVID-19. Arch names: densenet121-bgt (DenseNet-121 features)
// and densenet-bgt (the DenseNet of classifier.model.densenet_*: small ones for tests).
//
// Where the features come from (classifier.bgt.features):
//   backbone  a frozen DenseNet built from classifier.weights, as Kassani et al. (whom the
//             paper follows) used ImageNet-pretrained networks as fixed feature extractors.
//             Without classifier.weights the network is RANDOMLY initialised
//             (derive_seed(seed, "<name>/init")): a legitimate but weak baseline, NOT the
//             paper's model; the descriptor, evaluation.json and the logs say so.
//   trained   the DenseNet classifier trained in this run on the same task and configuration
//             (the sibling folder ../densenet121/model.pt, ../densenet/model.pt for densenet-bgt).
//
// Output folder (R/classifiers/<task>/<train_config>/<arch>/):
//   trees.yml     the ensemble (models/bgt/bagged_trees.h format), written atomically
//   backbone.pt   only for a random backbone: its weights (weights_io.h format)
//   bgt.json      the descriptor, written last (its presence means "finished"): backbone
//                 (architecture, weights file and its SHA-256, whether it is random), feature
//                 count, input size, trees.yml's SHA-256, tree parameters, seed, training counts
//                 and skew, out-of-bag and validation rates, the job's metadata, a fingerprint
// Re-running with the same options, data and seed keeps the finished model; other options
// are refused (UsageError) as for the networks. Loading verifies both SHA-256s.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "models/bgt/bagged_trees.h"
#include "models/classifiers/classifier.h"
#include "train/classifier/classifier_data.h"
#include "train/classifier/classifier_options.h"
#include "train/classifier/classifier_trainer.h"

namespace cxrsynth::train {

inline constexpr const char* kBgtDescriptorFile = "bgt.json";
inline constexpr const char* kBgtTreesFile = "trees.yml";
inline constexpr const char* kBgtBackboneFile = "backbone.pt";

// The DenseNet whose features a *-bgt arch uses: densenet121-bgt -> densenet121,
// densenet-bgt -> densenet (with the densenet_* fields).
models::ClassifierModelOptions bgt_backbone_options(const models::ClassifierModelOptions& model);

// [N, C] float32 pooled features of `samples` (eval mode, no gradients), batch by batch,
// with progress.
torch::Tensor extract_pooled_features(models::ClassifierNetImpl& net,
                                      const std::vector<ClassifierSample>& samples, int image_size,
                                      int batch_size, const std::string& label);

// train_classifier() for a *-bgt arch (it dispatches here): features of train_set, the
// ensemble fitted on them, the folder above. `validation` is only reported on.
ClassifierTrainResult train_bgt(const ClassifierOptions& options,
                                const std::vector<ClassifierSample>& train_set,
                                const std::vector<ClassifierSample>& validation,
                                const std::filesystem::path& out_dir, std::uint64_t run_seed,
                                const ClassifierTrainJob& job);

struct BgtModel {
  models::ClassifierNet backbone;
  models::BaggedTrees trees;
  int image_size = 0;
  std::filesystem::path descriptor;
  // The job's metadata plus: validation_split, image_size, backbone, backbone_weights,
  // random_backbone ("true"/"false"), feature_source, trees.
  std::map<std::string, std::string> metadata;
  bool random_backbone = false;
};

// True when `path` is a BGT descriptor or a folder holding one.
bool is_bgt_model_path(const std::filesystem::path& path);

// Loads bgt.json (or the folder holding it): the backbone (its file's SHA-256 checked) and the
// ensemble (its SHA-256 checked). Throws Error naming the file on any mismatch or absence.
BgtModel load_bgt_model(const std::filesystem::path& path);

struct BgtScores {
  std::vector<double> p_covid;  // fraction of trees voting COVID-19
  torch::Tensor features;       // [N, C] pooled backbone features (what the trees saw)
};
BgtScores score_bgt(BgtModel& model, const std::vector<ClassifierSample>& samples, int batch_size);

}  // namespace cxrsynth::train
