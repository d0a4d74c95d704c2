// The convolutions to and from a one-channel image equal the plain convolution (forward, all
// three gradients, batch > 1, odd sizes, kernels 3, 4 and 7), are deterministic, and apply
// only where they should.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "models/cyclegan/image_conv.h"

namespace cxrsynth::models {
namespace {

void expect_close(const at::Tensor& got, const at::Tensor& want, const char* what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = want.abs().max().item<double>() + 1e-12;
  EXPECT_LT((got - want).abs().max().item<double>() / scale, 1e-5) << what;
}

TEST(ImageConv, EqualsThePlainConvolutionAndItsGradients) {
  torch::manual_seed(3);
  struct Case {
    int n, cin, k, h, w;
    bool bias;
  };
  for (const auto& c : {Case{1, 16, 7, 40, 37, true}, Case{3, 5, 4, 19, 23, true},
                        Case{2, 64, 4, 35, 35, false}, Case{1, 1, 3, 9, 40, true}}) {
    const auto x = torch::randn({c.n, c.cin, c.h, c.w});
    const auto w = torch::randn({1, c.cin, c.k, c.k});
    const auto b = c.bias ? torch::randn({1}) : at::Tensor();
    const auto go = torch::randn({c.n, 1, c.h - c.k + 1, c.w - c.k + 1});

    auto x1 = x.clone().requires_grad_(true), w1 = w.clone().requires_grad_(true);
    auto b1 = c.bias ? b.clone().requires_grad_(true) : at::Tensor();
    const auto y1 = torch::conv2d(x1, w1, b1);
    y1.backward(go);
    auto x2 = x.clone().requires_grad_(true), w2 = w.clone().requires_grad_(true);
    auto b2 = c.bias ? b.clone().requires_grad_(true) : at::Tensor();
    const auto y2 = conv2d_to_one_channel(x2, w2, b2);
    y2.backward(go);
    expect_close(y2, y1, "output");
    expect_close(x2.grad(), x1.grad(), "input gradient");
    expect_close(w2.grad(), w1.grad(), "weight gradient");
    if (c.bias) expect_close(b2.grad(), b1.grad(), "bias gradient");

    // Deterministic: the same bits again.
    auto x3 = x.clone().requires_grad_(true), w3 = w.clone().requires_grad_(true);
    conv2d_to_one_channel(x3, w3, c.bias ? b.clone() : at::Tensor()).backward(go);
    EXPECT_TRUE(torch::equal(x3.grad(), x2.grad()));
    EXPECT_TRUE(torch::equal(w3.grad(), w2.grad()));
  }
}

TEST(ImageConv, FromOneChannelEqualsThePlainConvolutionAndItsGradients) {
  torch::manual_seed(8);
  struct Case {
    int n, cout, k, h, w;
    bool bias, input_grad;
  };
  for (const auto& c : {Case{1, 16, 7, 40, 37, true, false}, Case{3, 5, 4, 19, 23, true, true},
                        Case{2, 8, 7, 30, 30, false, true}, Case{2, 3, 3, 9, 40, true, false}}) {
    const auto x = torch::randn({c.n, 1, c.h, c.w});
    const auto w = torch::randn({c.cout, 1, c.k, c.k});
    const auto b = c.bias ? torch::randn({c.cout}) : at::Tensor();
    const auto go = torch::randn({c.n, c.cout, c.h - c.k + 1, c.w - c.k + 1});

    auto x1 = x.clone().requires_grad_(c.input_grad), w1 = w.clone().requires_grad_(true);
    auto b1 = c.bias ? b.clone().requires_grad_(true) : at::Tensor();
    const auto y1 = torch::conv2d(x1, w1, b1);
    y1.backward(go);
    auto x2 = x.clone().requires_grad_(c.input_grad), w2 = w.clone().requires_grad_(true);
    auto b2 = c.bias ? b.clone().requires_grad_(true) : at::Tensor();
    const auto y2 = conv2d_from_one_channel(x2, w2, b2);
    y2.backward(go);
    expect_close(y2, y1, "output");
    if (c.input_grad) {
      expect_close(x2.grad(), x1.grad(), "input gradient");
    } else {
      EXPECT_FALSE(x2.grad().defined());
    }
    expect_close(w2.grad(), w1.grad(), "weight gradient");
    if (c.bias) expect_close(b2.grad(), b1.grad(), "bias gradient");

    auto x3 = x.clone().requires_grad_(c.input_grad), w3 = w.clone().requires_grad_(true);
    conv2d_from_one_channel(x3, w3, c.bias ? b.clone() : at::Tensor()).backward(go);
    EXPECT_TRUE(torch::equal(w3.grad(), w2.grad()));
    if (c.input_grad) {
      EXPECT_TRUE(torch::equal(x3.grad(), x2.grad()));
    }
  }
}

TEST(ImageConv, ModuleKeepsConv2dParametersAndFallsBackElsewhere) {
  torch::manual_seed(4);
  ImageConv2d one(torch::nn::Conv2dOptions(8, 1, 7));
  torch::nn::Conv2d plain(torch::nn::Conv2dOptions(8, 1, 7));
  plain->weight.data().copy_(one->weight);
  plain->bias.data().copy_(one->bias);
  std::vector<std::string> names;
  for (const auto& p : one->named_parameters()) names.push_back(p.key());
  EXPECT_EQ(names, (std::vector<std::string>{"weight", "bias"}));
  const auto x = torch::randn({2, 8, 20, 20});
  expect_close(one->forward(x), plain->forward(x), "module forward");
  // Three output channels or padding: the plain convolution, the same bits.
  ImageConv2d three(torch::nn::Conv2dOptions(8, 3, 3));
  EXPECT_TRUE(torch::equal(three->forward(x), three->torch::nn::Conv2dImpl::forward(x)));
  // From one channel: the same parameters, the same forward.
  ImageConv2d stem(torch::nn::Conv2dOptions(1, 8, 7));
  torch::nn::Conv2d plain_stem(torch::nn::Conv2dOptions(1, 8, 7));
  plain_stem->weight.data().copy_(stem->weight);
  plain_stem->bias.data().copy_(stem->bias);
  const auto image = torch::randn({2, 1, 20, 20});
  expect_close(stem->forward(image), plain_stem->forward(image), "stem forward");
  ImageConv2d padded(torch::nn::Conv2dOptions(8, 1, 3).padding(1));
  EXPECT_TRUE(torch::equal(padded->forward(x), padded->torch::nn::Conv2dImpl::forward(x)));
}

}  // namespace
}  // namespace cxrsynth::models
