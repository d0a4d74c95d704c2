// The classifiers' fused batch norm (+ ReLU) in training mode (models/classifiers/batch_norm.h)
// against ATen's batch_norm + relu_: outputs, gradients of input, weight and bias, running
// statistics and num_batches_tracked, for plane sizes with vector tails and above the float
// flush interval, with and without ReLU, with a momentum and with the cumulative average; the
// same bytes on a second call and on 1 and 2 threads; whole networks (ResNet-50, a small
// DenseNet) give the same loss, gradients and buffers as with ATen's batch norm within
// rounding.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>

#include "models/classifiers/batch_norm.h"
#include "models/classifiers/classifier.h"

namespace cxrsynth::models {
namespace {

namespace nn = torch::nn;
using detail::batch_norm;
using detail::batch_norm_add_relu;
using detail::fused_batch_norm_applies;
using detail::set_fused_batch_norm_enabled;

// max |a - b| relative to max(1, max |b|)
double rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const double scale = std::max(1.0, b.abs().max().item<double>());
  return (a - b).abs().max().item<double>() / scale;
}

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  return a.sizes() == b.sizes() && torch::equal(a.view(torch::kInt32), b.view(torch::kInt32));
}

struct Result {
  torch::Tensor y, gx, gw, gb, rm, rv, nbt, gid;
};

// One training call of bn (fresh module with set parameters and buffers) on x, backward with
// the upstream gradient r; `steps` calls in a row (the last one's y and gradients returned).
// With `identity`: batch_norm_add_relu (relu ignored).
Result run(bool fused, const torch::Tensor& x, const torch::Tensor& r, bool relu,
           c10::optional<double> momentum, int steps = 1,
           const torch::Tensor& identity = torch::Tensor()) {
  set_fused_batch_norm_enabled(fused);
  const auto c = x.size(1);
  nn::BatchNorm2d bn(nn::BatchNorm2dOptions(c).momentum(momentum));
  {
    torch::NoGradGuard no_grad;
    bn->weight.copy_(torch::linspace(0.5, 1.5, c));
    bn->bias.copy_(torch::linspace(-0.3, 0.4, c));
    bn->running_mean.copy_(torch::linspace(-1, 1, c));
    bn->running_var.copy_(torch::linspace(0.5, 2, c));
  }
  bn->train();
  Result out;
  for (int s = 0; s < steps; ++s) {
    auto xi = x.clone().requires_grad_(true);
    bn->weight.mutable_grad() = torch::Tensor();
    bn->bias.mutable_grad() = torch::Tensor();
    // the ATen path runs relu_ in place: y must be a non-leaf, as in the networks
    torch::Tensor idi;
    if (identity.defined()) idi = identity.clone().requires_grad_(true);
    auto y = identity.defined() ? batch_norm_add_relu(*bn, xi * 1.0f, idi * 1.0f)
                                : batch_norm(*bn, xi * 1.0f, relu);
    (y * r).sum().backward();
    out = {y.detach(),
           xi.grad(),
           bn->weight.grad(),
           bn->bias.grad(),
           bn->running_mean.clone(),
           bn->running_var.clone(),
           bn->num_batches_tracked.clone(),
           identity.defined() ? idi.grad() : torch::Tensor()};
  }
  set_fused_batch_norm_enabled(true);
  return out;
}

void expect_close(const Result& a, const Result& b, double tol) {
  EXPECT_LE(rel_diff(a.y, b.y), tol);
  EXPECT_LE(rel_diff(a.gx, b.gx), tol);
  EXPECT_LE(rel_diff(a.gw, b.gw), tol);
  EXPECT_LE(rel_diff(a.gb, b.gb), tol);
  EXPECT_LE(rel_diff(a.rm, b.rm), tol);
  EXPECT_LE(rel_diff(a.rv, b.rv), tol);
  EXPECT_TRUE(torch::equal(a.nbt, b.nbt));
  EXPECT_EQ(a.gid.defined(), b.gid.defined());
  if (a.gid.defined() && b.gid.defined()) {
    EXPECT_LE(rel_diff(a.gid, b.gid), tol);
  }
}

TEST(FusedBatchNorm, MatchesAtenBatchNormAndRelu) {
  if (!fused_batch_norm_applies(torch::zeros({2, 2, 2, 2}))) {
    GTEST_SKIP() << "fused batch norm not used on this CPU (no AVX2/FMA)";
  }
  torch::manual_seed(3);
  // plane sizes: 63 (vector tail), 2,560 (more than one float flush interval), 1 (scalar only)
  const std::vector<std::vector<std::int64_t>> shapes = {
      {4, 5, 7, 9}, {2, 3, 64, 40}, {3, 2, 1, 1}};
  for (const auto& shape : shapes) {
    // an offset mean and uneven scale per channel, as convolution outputs have
    const auto x = torch::randn(shape) * 3 + 2;
    const auto r = torch::randn(shape);
    for (const bool relu : {true, false}) {
      for (const auto momentum : {c10::optional<double>(0.1), c10::optional<double>()}) {
        SCOPED_TRACE(::testing::Message() << "shape " << shape[2] << "x" << shape[3] << " relu "
                                          << relu << " momentum " << momentum.has_value());
        expect_close(run(true, x, r, relu, momentum, 2), run(false, x, r, relu, momentum, 2), 1e-5);
      }
    }
    // ResNet's bn3 + residual add + ReLU
    SCOPED_TRACE(::testing::Message() << "shape " << shape[2] << "x" << shape[3] << " add");
    const auto identity = torch::randn(shape);
    const auto fused = run(true, x, r, true, 0.1, 2, identity);
    expect_close(fused, run(false, x, r, true, 0.1, 2, identity), 1e-5);
    EXPECT_TRUE(fused.gid.defined());
  }
}

TEST(FusedBatchNorm, SameBytesAgainAndOnOneAndTwoThreads) {
  if (!fused_batch_norm_applies(torch::zeros({2, 2, 2, 2}))) GTEST_SKIP() << "no AVX2/FMA";
  torch::manual_seed(4);
  const auto x = torch::randn({3, 6, 33, 35}) + 1;
  const auto r = torch::randn({3, 6, 33, 35});
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = run(true, x, r, true, 0.1);
  at::set_num_threads(2);
  const auto two = run(true, x, r, true, 0.1);
  const auto again = run(true, x, r, true, 0.1);
  at::set_num_threads(threads);
  for (const auto* o : {&two, &again}) {
    EXPECT_TRUE(same_bytes(one.y, o->y));
    EXPECT_TRUE(same_bytes(one.gx, o->gx));
    EXPECT_TRUE(same_bytes(one.gw, o->gw));
    EXPECT_TRUE(same_bytes(one.gb, o->gb));
    EXPECT_TRUE(same_bytes(one.rm, o->rm));
    EXPECT_TRUE(same_bytes(one.rv, o->rv));
  }
}

TEST(FusedBatchNorm, ConcatenationPiecesGiveTheSameBytesAsTheConcatenation) {
  if (!fused_batch_norm_applies(torch::zeros({2, 2, 2, 2}))) GTEST_SKIP() << "no AVX2/FMA";
  torch::manual_seed(6);
  const std::vector<torch::Tensor> pieces = {torch::randn({3, 5, 9, 11}) + 1,
                                             torch::randn({3, 2, 9, 11}) * 2,
                                             torch::randn({3, 4, 9, 11})};
  const auto r = torch::randn({3, 11, 9, 11});
  struct Out {
    torch::Tensor y, gw, gb, rm, rv;
    std::vector<torch::Tensor> g;
  };
  const auto run_pieces = [&](bool as_pieces) {
    torch::manual_seed(1);
    nn::BatchNorm2d bn(11);
    {
      torch::NoGradGuard no_grad;
      bn->weight.copy_(torch::linspace(0.5, 1.5, 11));
      bn->bias.copy_(torch::linspace(-0.3, 0.4, 11));
    }
    std::vector<torch::Tensor> in;
    for (const auto& p : pieces) in.push_back(p.clone().requires_grad_(true));
    auto y = as_pieces ? detail::batch_norm_cat(*bn, in, true)
                       : batch_norm(*bn, torch::cat(in, 1), true);
    (y * r).sum().backward();
    Out o{y.detach(),
          bn->weight.grad(),
          bn->bias.grad(),
          bn->running_mean.clone(),
          bn->running_var.clone(),
          {}};
    for (const auto& p : in) o.g.push_back(p.grad());
    return o;
  };
  const auto a = run_pieces(true), b = run_pieces(false);
  EXPECT_TRUE(same_bytes(a.y, b.y));
  EXPECT_TRUE(same_bytes(a.gw, b.gw));
  EXPECT_TRUE(same_bytes(a.gb, b.gb));
  EXPECT_TRUE(same_bytes(a.rm, b.rm));
  EXPECT_TRUE(same_bytes(a.rv, b.rv));
  ASSERT_EQ(a.g.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(same_bytes(a.g[i], b.g[i])) << i;
}

TEST(FusedBatchNorm, FallsBackWhereItDoesNotApply) {
  EXPECT_FALSE(fused_batch_norm_applies(torch::zeros({2, 2, 2, 2}, torch::kFloat64)));
  EXPECT_FALSE(fused_batch_norm_applies(
      torch::zeros({2, 2, 2, 2}).contiguous(torch::MemoryFormat::ChannelsLast)));
  EXPECT_FALSE(fused_batch_norm_applies(torch::zeros({1, 2, 1, 1})));
  // eval mode: the module's forward with the running statistics
  torch::manual_seed(5);
  nn::BatchNorm2d bn(3);
  {
    torch::NoGradGuard no_grad;
    bn->running_mean.copy_(torch::tensor({0.5f, -1.f, 2.f}));
    bn->running_var.copy_(torch::tensor({1.5f, 0.5f, 2.f}));
  }
  bn->eval();
  const auto x = torch::randn({2, 3, 4, 4});
  EXPECT_TRUE(torch::equal(batch_norm(*bn, x, true), bn->forward(x).relu()));
  EXPECT_TRUE(torch::equal(bn->num_batches_tracked, torch::zeros_like(bn->num_batches_tracked)));
}

// One training step's loss, parameter gradients and buffers of a network built with seed 11,
// in `dtype` (float64: ATen's batch norm, the reference).
std::map<std::string, torch::Tensor> network_step(const ClassifierModelOptions& o, bool fused,
                                                  torch::Dtype dtype, const torch::Tensor& x,
                                                  const torch::Tensor& t) {
  set_fused_batch_norm_enabled(fused);
  torch::manual_seed(11);
  auto net = make_classifier(o);
  net->to(dtype);
  net->train();
  auto loss = torch::nn::functional::cross_entropy(net->forward(x.to(dtype)), t);
  loss.backward();
  std::map<std::string, torch::Tensor> out{{"loss", loss.detach().to(torch::kFloat64)}};
  for (const auto& p : net->named_parameters()) {
    out["grad " + p.key()] = p.value().grad().to(torch::kFloat64);
  }
  for (const auto& b : net->named_buffers()) {
    out[b.key()] = b.value().to(b.value().is_floating_point() ? torch::kFloat64 : torch::kLong);
  }
  set_fused_batch_norm_enabled(true);
  return out;
}

// A training step of whole networks (ResNet-50, a small DenseNet): loss, every parameter's
// gradient and every buffer are as close to a float64 run (ATen's batch norm) as ATen's own
// float32 batch norm gets. Deep networks at 32 px end with 1x1 planes (4 values per channel),
// where batch norm amplifies rounding (ATen float32 against float64: up to 11% on a layer4
// gradient), so a fixed tolerance against float32 ATen would say little; against float64 the
// fused version's largest and mean errors over all tensors must be no worse than ATen's
// (x1.5), and no single tensor's 10x ATen's (or 1e-4 of its scale).
TEST(FusedBatchNorm, NetworksAsCloseToFloat64AsAtenBatchNorm) {
  if (!fused_batch_norm_applies(torch::zeros({2, 2, 2, 2}))) GTEST_SKIP() << "no AVX2/FMA";
  ClassifierModelOptions resnet;
  resnet.arch = "resnet50";
  resnet.in_channels = 1;
  ClassifierModelOptions densenet;
  densenet.arch = "densenet";
  densenet.in_channels = 1;
  densenet.densenet_growth_rate = 4;
  densenet.densenet_block_config = {2, 3};
  densenet.densenet_init_features = 8;
  densenet.densenet_bn_size = 2;
  torch::manual_seed(12);
  const auto x = torch::rand({4, 1, 32, 32});
  const auto t = torch::tensor({0, 1, 1, 0}, torch::kLong);
  for (const auto& o : {resnet, densenet}) {
    SCOPED_TRACE(o.arch);
    const auto fused = network_step(o, true, torch::kFloat32, x, t);
    const auto aten = network_step(o, false, torch::kFloat32, x, t);
    const auto ref = network_step(o, false, torch::kFloat64, x, t);
    ASSERT_EQ(fused.size(), ref.size());
    double worst_fused = 0, worst_aten = 0, sum_fused = 0, sum_aten = 0;
    for (const auto& [k, v] : ref) {
      ASSERT_TRUE(fused.count(k) && fused.at(k).defined() && v.defined()) << k;
      if (v.scalar_type() == torch::kLong) {
        EXPECT_TRUE(torch::equal(fused.at(k), v)) << k;
        continue;
      }
      const double scale = std::max(1e-12, v.abs().max().item<double>());
      const double ef = (fused.at(k) - v).abs().max().item<double>() / scale;
      const double ea = (aten.at(k) - v).abs().max().item<double>() / scale;
      worst_fused = std::max(worst_fused, ef);
      worst_aten = std::max(worst_aten, ea);
      sum_fused += ef;
      sum_aten += ea;
      // per tensor only a guard against a real error: single tensors scatter either way
      EXPECT_LE(ef, std::max(10 * ea, 1e-4)) << k << " (ATen float32: " << ea << ")";
    }
    EXPECT_LE(worst_fused, 1.5 * worst_aten);
    EXPECT_LE(sum_fused, 1.5 * sum_aten);
    std::printf(
        "%s: relative error against float64 over %zu tensors: largest fused %.3g, ATen %.3g; "
        "mean fused %.3g, ATen %.3g\n",
        o.arch.c_str(), ref.size(), worst_fused, worst_aten, sum_fused / ref.size(),
        sum_aten / ref.size());
  }
}

}  // namespace
}  // namespace cxrsynth::models
