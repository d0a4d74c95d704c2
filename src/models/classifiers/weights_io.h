// Classifier weights in and out.
//
// Import (`--weights FILE`): a torchvision state_dict written by scripts/export_torchvision.py
// (a pickled {name: tensor} dict, torch.save format, read with torch::pickle_load). Names and
// shapes must match one to one, with exactly these documented exceptions:
//   - head: our 2-class head (`fc.*` for VGG-16/ResNet-50, `classifier.*` for DenseNet) is
//     loaded when the file has it with the same shape; an ImageNet file's 1000-class head (or
//     none) leaves ours at its initialisation, and the skipped keys are reported;
//   - VGG-16: torchvision's `classifier.0/3/6.*` (the three-layer 4096-wide head) are not
//     loaded: our head is global average pooling + one linear layer (paper sec. 4);
//   - first convolution: a 3-channel (RGB) kernel is summed over its input channels for our
//     1-channel input. For a gray image copied to RGB (what the authors fed the ImageNet
//     networks) this gives exactly the same output: conv(x, x, x; W) = conv(x; W_r + W_g + W_b).
// Anything else missing, unexpected or of the wrong shape is an error listing every such key.
//
// Export: a cxrsynth classifier file is a pickled dict (Python: torch.load(f)) holding
//   format "cxrsynth-classifier/1", the architecture options (arch, in_channels, densenet_*),
//   and "state_dict": {torchvision-style name: tensor}; scripts/reference/classifier_parity.py
//   shows how Python rebuilds the network from it.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "models/classifiers/classifier.h"

namespace cxrsynth::models {

namespace fs = std::filesystem;

struct WeightsImportOptions {
  bool adapt_first_conv = true;  // sum an RGB first-conv kernel for a 1-channel input
};

struct WeightsImportReport {
  std::size_t loaded = 0;                     // tensors copied
  std::vector<std::string> skipped_head;      // our head keys left at their initialisation
  std::vector<std::string> skipped_replaced;  // torchvision keys our head replaces (VGG)
  bool first_conv_adapted = false;
};

// Loads a torchvision state_dict file (or a cxrsynth classifier file) into `model`.
WeightsImportReport load_torchvision_weights(ClassifierNetImpl& model, const fs::path& file,
                                             const WeightsImportOptions& options = {});

// {name: tensor} of every parameter and buffer, torchvision names.
std::map<std::string, torch::Tensor> classifier_state(ClassifierNetImpl& model);

// Writes a cxrsynth classifier file atomically; `metadata` adds string entries (train config,
// task, checkpoint epoch ...).
void save_classifier_file(ClassifierNetImpl& model, const fs::path& file,
                          const std::map<std::string, std::string>& metadata = {});

struct LoadedClassifier {
  ClassifierNet net;
  std::map<std::string, std::string> metadata;
};

// Rebuilds the network from a cxrsynth classifier file and loads its weights strictly.
LoadedClassifier load_classifier_file(const fs::path& file);

}  // namespace cxrsynth::models
