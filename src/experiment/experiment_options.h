// Options of the `experiment` stage (the `experiment` config section; torch-free): the paper's
// grid (Tables 1-2, METHOD.md sec. 3) of tasks x training configurations x models x seeds, plus
// the two cheap alternatives the paper never compared against (issue #6 item 6).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/fields.h"

namespace cxrsynth::experiment {

struct ExperimentOptions {
  // Source: paper Tables 1-2 (both tasks).
  std::vector<std::string> tasks = {"normal-vs-covid", "pneumonia-vs-covid"};
  // Source: paper Tables 1-2 (real, real+G, real+G_NC+G_PC, synthetic only); ours (the two
  // cheap alternatives). real+gnc applies to normal-vs-covid, real+gpc to pneumonia-vs-covid.
  std::vector<std::string> configs = {"real",         "real+gnc",       "real+gpc",
                                      "real+gnc+gpc", "synthetic-only", "real-oversampled",
                                      "real-weighted"};
  // Source: paper sec. 4 (VGG-16, ResNet-50, DenseNet-121; "DenseNet-102" does not exist).
  std::vector<std::string> models = {"vgg16", "resnet50", "densenet121"};
  // Classifier seeds; each cell's training seed is derive_seed(run.seed, "experiment/seed/<s>").
  std::vector<std::int64_t> seeds = {0};
  // Images per synthetic set (G_NC, G_PC) whose pooled features each evaluation appends to
  // features.csv, so Fig. 8 shows Normal, COVID-19, G_NC and G_PC. Source: paper sec. 4 (180
  // images per group in its UMAP).
  int feature_synthetic = 180;
  bool print = true;  // print the tables to stdout at the end. Source: ours
};

// Every training configuration the grid knows, in table order.
inline const std::vector<std::string>& experiment_config_names() {
  static const std::vector<std::string> names = {
      "real",           "real+gnc",         "real+gpc",     "real+gnc+gpc",
      "synthetic-only", "real-oversampled", "real-weighted"};
  return names;
}

template <class V>
void visit_fields(V& v, ExperimentOptions& o) {
  using config::Doc;
  v.field("tasks", o.tasks,
          Doc("Tasks of the grid: normal-vs-covid (Table 1), pneumonia-vs-covid (Table 2)",
              "paper Tables 1-2"));
  v.field("configs", o.configs,
          Doc("Training configurations: real; real+gnc (normal-vs-covid only) / real+gpc "
              "(pneumonia-vs-covid only); real+gnc+gpc; synthetic-only (the task's own synthetic "
              "set replaces the real positives); real-oversampled (real positives repeated up to "
              "the count of real+own synthetic positives); real-weighted (balanced class "
              "weights, classifier.class_weights)",
              "paper Tables 1-2; ours (the cheap alternatives)"));
  v.field("models", o.models,
          Doc("Classifier backbones (classifier.model.arch values); 'densenet' takes its block "
              "configuration from classifier.model.densenet_*. The paper's 'DenseNet-102' is "
              "defined nowhere and is never used as a label",
              "paper sec. 4"));
  v.field(
      "seeds", o.seeds,
      Doc("Classifier seeds: each (task, configuration, model) is trained once per seed", "ours"));
  v.field("feature_synthetic", o.feature_synthetic,
          Doc("Images of each synthetic set (G_NC, G_PC; spread evenly over the set) whose "
              "pooled features are appended to every cell's features.csv (origin "
              "synthetic:<task>) for Fig. 8; 0 = none. Needs evaluate.features",
              "paper sec. 4 (180 images per group in Fig. 8)")
              .range(0, 100000));
  v.field("print", o.print, Doc("Print the tables to stdout when the grid is done", "ours"));
}

}  // namespace cxrsynth::experiment
