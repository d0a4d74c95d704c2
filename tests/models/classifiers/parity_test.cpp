// Torchvision parity (runs in CI): scripts/reference/classifier_parity.py exports a randomly
// initialised torchvision model (eval mode, randomised batch-norm statistics) with its pooled
// features and logits on fixed inputs; C++ loads it through the importer and must reproduce
// them within 1e-4, for RGB input and for the 1-channel adaptation. Then the other direction:
// C++ writes a classifier file, Python rebuilds the network from it and reproduces C++'s logits.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include <cstdlib>

#include "core/atomic_file.h"
#include "models/classifiers/classifier.h"
#include "models/classifiers/weights_io.h"
#include "support/temp_dir.h"

namespace cxrsynth::models {
namespace {

using testing::TempDir;

constexpr double kTol = 1e-4;
constexpr const char* kPython = "/usr/bin/python3";

bool python_has_torchvision() {
  static const bool ok =
      std::system(
          fmt::format("{} -c 'import torch, torchvision' >/dev/null 2>&1", kPython).c_str()) == 0;
  return ok;
}

std::string script() {
  return (testing::source_dir() / "scripts" / "reference" / "classifier_parity.py").string();
}

std::map<std::string, torch::Tensor> read_tensors(const fs::path& path) {
  const std::string bytes = read_file(path);
  const auto v = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : v.toGenericDict()) {
    out.emplace(kv.key().toStringRef(), kv.value().toTensor());
  }
  return out;
}

double max_diff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, MatchesTorchvisionBothWays) {
  if (!python_has_torchvision()) GTEST_SKIP() << kPython << " with torch/torchvision not found";
  const std::string arch = GetParam();
  TempDir tmp;
  const auto weights = tmp / "weights.pt", ref = tmp / "ref.pt";
  ASSERT_EQ(std::system(fmt::format("{} {} export {} {} {} --size 64", kPython, script(), arch,
                                    weights.string(), ref.string())
                            .c_str()),
            0);
  const auto r = read_tensors(ref);
  torch::NoGradGuard no_grad;

  ClassifierModelOptions o;
  o.arch = arch;
  o.in_channels = 3;
  auto rgb = make_classifier(o);
  const auto report = load_torchvision_weights(*rgb, weights);
  EXPECT_TRUE(report.skipped_head.empty());
  EXPECT_EQ(report.skipped_replaced.size(), arch == "vgg16" ? 6u : 0u);
  rgb->eval();
  const auto pooled = rgb->pooled_features(r.at("x_rgb"));
  EXPECT_LE(max_diff(pooled, r.at("pooled_rgb")), kTol);
  EXPECT_LE(max_diff(rgb->head(pooled), r.at("logits_rgb")), kTol);

  o.in_channels = 1;
  auto gray = make_classifier(o);
  EXPECT_TRUE(load_torchvision_weights(*gray, weights).first_conv_adapted);
  gray->eval();
  const auto logits_gray = gray->forward(r.at("x_gray"));
  EXPECT_LE(max_diff(logits_gray, r.at("logits_gray")), kTol);

  // C++ -> Python: the saved classifier file rebuilds in torchvision and gives our logits.
  save_classifier_file(*gray, tmp / "model.pt");
  c10::Dict<std::string, torch::Tensor> check;
  check.insert("x", r.at("x_gray"));
  check.insert("logits", logits_gray);
  const auto bytes = torch::pickle_save(check);
  write_file_atomic(tmp / "check.pt", std::string_view(bytes.data(), bytes.size()));
  EXPECT_EQ(std::system(fmt::format("{} {} check {} {}", kPython, script(),
                                    (tmp / "model.pt").string(), (tmp / "check.pt").string())
                            .c_str()),
            0);
}

INSTANTIATE_TEST_SUITE_P(Torchvision, Parity,
                         ::testing::Values("resnet50", "densenet121", "vgg16"));

}  // namespace
}  // namespace cxrsynth::models
