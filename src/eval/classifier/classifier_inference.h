// Running a trained classifier over images: P(COVID-19) = softmax(logits)[1] and the pooled
// features, in eval mode without gradients, batch by batch.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/classifiers/classifier.h"
#include "train/classifier/classifier_data.h"

namespace cxrsynth::train {
struct BgtModel;
}

namespace cxrsynth::eval {

struct InferenceResult {
  std::vector<double> p_covid;  // one per sample
  torch::Tensor features;       // [N, C] float (undefined unless asked for)
};

// image_size: the classifier's input side (model.pt metadata "image_size"; 0 = as stored).
InferenceResult run_classifier(models::ClassifierNetImpl& net,
                               const std::vector<train::ClassifierSample>& samples, int image_size,
                               int batch_size, bool with_features);

// A trained classifier ready to score images, whichever kind train-classifier wrote: a network
// (model.pt) or DenseNet features + bagging trees (bgt.json, train/classifier/bgt_trainer.h).
struct ScoringModel {
  std::filesystem::path file;                   // model.pt or bgt.json
  std::map<std::string, std::string> metadata;  // image_size, validation_split, task, ...
  models::ClassifierNet net;                    // set for a network
  std::shared_ptr<train::BgtModel> bgt;         // set for DenseNet + bagging trees
};

// The model file train-classifier writes into `classifier_dir` for `arch`: bgt.json for
// densenet121-bgt / densenet-bgt, model.pt otherwise.
std::filesystem::path trained_model_file(const std::filesystem::path& classifier_dir,
                                         const std::string& arch);

// Loads a model.pt or a bgt.json (or a folder holding one); errors name the file.
ScoringModel load_scoring_model(const std::filesystem::path& file_or_dir);

// As above for either kind; P(COVID-19) of bagging trees = fraction of trees voting COVID-19,
// and its features are the DenseNet features the trees saw. For bagging trees `image_size` must
// be 0 or the size the trees were fitted at.
InferenceResult run_classifier(ScoringModel& model,
                               const std::vector<train::ClassifierSample>& samples, int image_size,
                               int batch_size, bool with_features);

}  // namespace cxrsynth::eval

namespace cxrsynth::eval {

// `predict`: P(COVID-19) for each file (PNG, JPEG, DICOM), preprocessed as `prepare` does for
// the classifier's input size. `checkpoint` is a model.pt or a bgt.json, or a folder holding
// one.
std::vector<double> predict_files(const std::filesystem::path& checkpoint,
                                  const std::vector<std::filesystem::path>& files,
                                  int batch_size = 16);

}  // namespace cxrsynth::eval
