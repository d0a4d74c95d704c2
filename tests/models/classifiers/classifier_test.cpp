// Classifier networks: output shapes, torchvision parameter names and counts, weights import
// rules (errors listing keys, first-conv adaptation, head skip) and the classifier file
// round trip.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "core/error.h"
#include "models/classifiers/classifier.h"
#include "models/classifiers/weights_io.h"
#include "support/temp_dir.h"

namespace cxrsynth::models {
namespace {

using testing::TempDir;

ClassifierModelOptions opts(const std::string& arch, int in_channels = 1) {
  ClassifierModelOptions o;
  o.arch = arch;
  o.in_channels = in_channels;
  return o;
}

ClassifierModelOptions tiny_densenet() {
  ClassifierModelOptions o = opts("densenet");
  o.densenet_growth_rate = 4;
  o.densenet_block_config = {2, 2};
  o.densenet_init_features = 8;
  o.densenet_bn_size = 2;
  return o;
}

std::int64_t count_params(ClassifierNetImpl& net) {
  std::int64_t n = 0;
  for (const auto& p : net.parameters()) n += p.numel();
  return n;
}

void save_dict(const std::map<std::string, torch::Tensor>& state, const fs::path& path) {
  c10::Dict<std::string, torch::Tensor> d;
  for (const auto& [k, v] : state) d.insert(k, v);
  const auto bytes = torch::pickle_save(d);
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
}

TEST(Classifier, ShapesAndTorchvisionNames) {
  torch::manual_seed(0);
  struct Case {
    std::string arch;
    std::int64_t features;
    std::int64_t params;  // torchvision, num_classes = 2, 3-channel input (VGG: features + fc)
    std::vector<std::string> names;
  };
  const std::vector<Case> cases = {
      {"vgg16",
       512,
       14714688 + 512 * 2 + 2,
       {"features.0.weight", "features.28.bias", "fc.weight"}},
      {"resnet50",
       2048,
       23512130,
       {"conv1.weight", "bn1.running_var", "layer1.0.downsample.0.weight",
        "layer1.0.downsample.1.num_batches_tracked", "layer4.2.conv3.weight", "fc.bias"}},
      {"densenet121",
       1024,
       6955906,
       {"features.conv0.weight", "features.norm0.running_mean",
        "features.denseblock1.denselayer6.conv2.weight", "features.transition3.norm.weight",
        "features.transition3.conv.weight", "features.denseblock4.denselayer16.norm1.bias",
        "features.norm5.weight", "classifier.weight"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.arch);
    auto net = make_classifier(opts(c.arch, 3));
    EXPECT_EQ(count_params(*net), c.params);
    EXPECT_EQ(pooled_feature_count(net->options()), c.features);
    const auto state = classifier_state(*net);
    for (const auto& name : c.names) EXPECT_TRUE(state.count(name)) << name;
    auto gray = make_classifier(opts(c.arch, 1));
    gray->eval();
    torch::NoGradGuard no_grad;
    const auto x = torch::rand({2, 1, 32, 32});
    EXPECT_EQ(gray->pooled_features(x).sizes(), (std::vector<std::int64_t>{2, c.features}));
    EXPECT_EQ(gray->forward(x).sizes(), (std::vector<std::int64_t>{2, kNumClasses}));
  }
}

TEST(Classifier, DenseNetFamilyAndCustomConfiguration) {
  EXPECT_EQ(pooled_feature_count(opts("densenet169")), 1664);
  EXPECT_EQ(pooled_feature_count(opts("densenet201")), 1920);
  EXPECT_EQ(pooled_feature_count(opts("densenet161")), 2208);
  auto net = make_classifier(tiny_densenet());
  // 8 + 2*4 = 16 -> transition 8 -> + 2*4 = 16
  EXPECT_EQ(pooled_feature_count(net->options()), 16);
  EXPECT_EQ(net->forward(torch::rand({3, 1, 32, 32})).sizes(), (std::vector<std::int64_t>{3, 2}));
  auto bad = tiny_densenet();
  bad.densenet_block_config = {};
  EXPECT_THROW(make_classifier(bad), UsageError);
  EXPECT_THROW(make_classifier(opts("densenet102")), UsageError);
}

TEST(Classifier, SameSeedSameInitialisation) {
  torch::manual_seed(5);
  auto a = make_classifier(tiny_densenet());
  torch::manual_seed(5);
  auto b = make_classifier(tiny_densenet());
  const auto sa = classifier_state(*a), sb = classifier_state(*b);
  for (const auto& [k, v] : sa) EXPECT_TRUE(torch::equal(v, sb.at(k))) << k;
}

TEST(WeightsImport, MissingUnexpectedAndShapeErrorsListKeys) {
  TempDir tmp;
  auto net = make_classifier(tiny_densenet());
  auto state = classifier_state(*net);
  state.erase("features.denseblock2.denselayer1.conv1.weight");
  state["features.bogus.weight"] = torch::zeros({1});
  state["features.norm5.bias"] = torch::zeros({3});
  save_dict(state, tmp / "bad.pt");
  try {
    load_torchvision_weights(*net, tmp / "bad.pt");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.full_message();
    EXPECT_NE(msg.find("features.denseblock2.denselayer1.conv1.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("features.bogus.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("features.norm5.bias"), std::string::npos) << msg;
  }
}

TEST(WeightsImport, RgbFirstConvIsSummedAndHeadSkippedWhenShapesDiffer) {
  TempDir tmp;
  torch::manual_seed(1);
  auto rgb = make_classifier([] {
    auto o = tiny_densenet();
    o.in_channels = 3;
    return o;
  }());
  auto state = classifier_state(*rgb);
  // An ImageNet-like file: 1000-class head.
  state["classifier.weight"] = torch::randn({1000, 16});
  state["classifier.bias"] = torch::randn({1000});
  save_dict(state, tmp / "w.pt");
  torch::manual_seed(2);
  auto gray = make_classifier(tiny_densenet());
  const auto head_before = gray->named_parameters()["classifier.weight"].clone();
  const auto report = load_torchvision_weights(*gray, tmp / "w.pt");
  EXPECT_TRUE(report.first_conv_adapted);
  EXPECT_EQ(report.skipped_head.size(), 2u);
  EXPECT_TRUE(torch::equal(gray->named_parameters()["classifier.weight"], head_before));
  rgb->eval();
  gray->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({2, 1, 32, 32});
  // A gray image copied to RGB gives the same features as the summed kernel on the gray image.
  EXPECT_TRUE(torch::allclose(gray->pooled_features(x),
                              rgb->pooled_features(x.repeat({1, 3, 1, 1})), 1e-5, 1e-5));
  WeightsImportOptions strict;
  strict.adapt_first_conv = false;
  EXPECT_THROW(load_torchvision_weights(*gray, tmp / "w.pt", strict), Error);
}

TEST(ClassifierFile, RoundTripRebuildsTheNetwork) {
  TempDir tmp;
  torch::manual_seed(3);
  auto net = make_classifier(tiny_densenet());
  net->eval();
  save_classifier_file(*net, tmp / "model.pt", {{"task", "normal-vs-covid"}});
  auto loaded = load_classifier_file(tmp / "model.pt");
  EXPECT_EQ(loaded.metadata.at("task"), "normal-vs-covid");
  EXPECT_EQ(loaded.net->options().densenet_block_config, tiny_densenet().densenet_block_config);
  loaded.net->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::rand({2, 1, 32, 32});
  EXPECT_TRUE(torch::equal(net->forward(x), loaded.net->forward(x)));
  EXPECT_THROW(load_classifier_file(tmp / "missing.pt"), Error);
}

}  // namespace
}  // namespace cxrsynth::models
