// Running a trained classifier over images: P(COVID-19) = softmax(logits)[1] and the pooled
// features, in eval mode without gradients, batch by batch.
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <vector>

#include "models/classifiers/classifier.h"
#include "train/classifier/classifier_data.h"

namespace cxrsynth::eval {

struct InferenceResult {
  std::vector<double> p_covid;  // one per sample
  torch::Tensor features;       // [N, C] float (undefined unless asked for)
};

// image_size: the classifier's input side (model.pt metadata "image_size"; 0 = as stored).
InferenceResult run_classifier(models::ClassifierNetImpl& net,
                               const std::vector<train::ClassifierSample>& samples, int image_size,
                               int batch_size, bool with_features);

}  // namespace cxrsynth::eval

namespace cxrsynth::eval {

// `predict`: P(COVID-19) for each file (PNG, JPEG, DICOM), preprocessed as `prepare` does for
// the classifier's input size. `checkpoint` is a model.pt or a folder holding one.
std::vector<double> predict_files(const std::filesystem::path& checkpoint,
                                  const std::vector<std::filesystem::path>& files,
                                  int batch_size = 16);

}  // namespace cxrsynth::eval
