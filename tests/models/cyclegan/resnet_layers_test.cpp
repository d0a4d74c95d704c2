// The ResNet generator's reflection padding, upsampling and instance norm (resnet_layers.h)
// equal ATen's (outputs and input gradients, batch > 1, several shapes and paddings), give
// the same bits for one and two threads, and fall back to ATen where they do not apply.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <array>
#include <functional>

#include "models/cyclegan/resnet_layers.h"

namespace cxrsynth::models {
namespace {

void expect_close(const at::Tensor& got, const at::Tensor& want, double tol, const char* what) {
  ASSERT_EQ(got.sizes(), want.sizes()) << what;
  const double scale = want.abs().max().item<double>() + 1e-12;
  EXPECT_LT((got - want).abs().max().item<double>() / scale, tol) << what;
}

// Output and input gradient of f(x) for the output gradient go.
std::pair<at::Tensor, at::Tensor> run(const std::function<at::Tensor(const at::Tensor&)>& f,
                                      const at::Tensor& x, const at::Tensor& go) {
  auto xr = x.clone().requires_grad_(true);
  auto y = f(xr);
  y.backward(go);
  return {y.detach(), xr.grad()};
}

class ThreadsGuard {
 public:
  explicit ThreadsGuard(int n) : before_(at::get_num_threads()) { at::set_num_threads(n); }
  ~ThreadsGuard() { at::set_num_threads(before_); }

 private:
  int before_;
};

using Fn = std::function<at::Tensor(const at::Tensor&)>;

// fast(x) and its input gradient for go equal ref's: the output exactly (exact_forward) or to
// tol, the gradient to tol; and fast gives the same bits on one and two threads.
void expect_like_aten_and_deterministic(const Fn& fast, const Fn& ref, const at::Tensor& x,
                                        const at::Tensor& go, bool exact_forward, double tol) {
  const auto [y_ref, gx_ref] = run(ref, x, go);
  const auto [y, gx] = run(fast, x, go);
  if (exact_forward)
    EXPECT_TRUE(torch::equal(y, y_ref)) << "forward: the same copies";
  else
    expect_close(y, y_ref, tol, "output");
  expect_close(gx, gx_ref, tol, "input gradient");
  std::pair<at::Tensor, at::Tensor> one;
  {
    ThreadsGuard g(1);
    one = run(fast, x, go);
  }
  ThreadsGuard g(2);
  const auto two = run(fast, x, go);
  EXPECT_TRUE(torch::equal(one.first, two.first));
  EXPECT_TRUE(torch::equal(one.second, two.second));
}

TEST(ResnetLayers, ReflectionPadEqualsAtenAndIsDeterministic) {
  torch::manual_seed(5);
  struct Case {
    int n, c, h, w;
    std::array<std::int64_t, 4> pad;
  };
  for (const auto& k : {Case{2, 3, 8, 8, {1, 1, 1, 1}}, Case{3, 16, 20, 17, {3, 3, 3, 3}},
                        Case{1, 1, 4, 40, {3, 3, 3, 3}}, Case{2, 5, 9, 11, {2, 0, 1, 3}},
                        Case{2, 4, 33, 35, {1, 1, 1, 1}}}) {
    const auto x = torch::randn({k.n, k.c, k.h, k.w});
    const auto go = torch::randn({k.n, k.c, k.h + k.pad[2] + k.pad[3], k.w + k.pad[0] + k.pad[1]});
    expect_like_aten_and_deterministic(
        [&](const at::Tensor& v) { return fast_reflection_pad2d(v, k.pad); },
        [&](const at::Tensor& v) { return at::reflection_pad2d(v, k.pad); }, x, go, true, 1e-6);
  }
}

TEST(ResnetLayers, UpsampleEqualsAtenAndIsDeterministic) {
  torch::manual_seed(9);
  for (const auto& shape :
       {std::vector<std::int64_t>{2, 3, 8, 8}, {3, 16, 20, 17}, {1, 1, 5, 3}, {2, 32, 16, 33}}) {
    const auto x = torch::randn(shape);
    const auto go = torch::randn({shape[0], shape[1], 2 * shape[2], 2 * shape[3]});
    expect_like_aten_and_deterministic(
        [](const at::Tensor& v) { return fast_upsample_nearest2x(v); },
        [](const at::Tensor& v) {
          return at::upsample_nearest2d(v, {2 * v.size(2), 2 * v.size(3)}, 2.0, 2.0);
        },
        x, go, true, 1e-6);
  }
  // The module: nn::Upsample's values, no parameters; not contiguous: ATen's.
  FastUpsampleNearest2x up;
  EXPECT_TRUE(up->named_parameters().is_empty());
  const auto x = torch::randn({2, 3, 6, 7}).transpose(2, 3);
  EXPECT_TRUE(torch::equal(up->forward(x), at::upsample_nearest2d(x, {14, 12}, 2.0, 2.0)));
}

TEST(ResnetLayers, InstanceNormEqualsAtenAndIsDeterministic) {
  torch::manual_seed(6);
  struct Case {
    int n, c, h, w;
  };
  for (const auto& k : {Case{2, 3, 8, 8}, Case{3, 16, 20, 17}, Case{2, 64, 32, 32},
                        Case{1, 1, 5, 3}, Case{4, 2, 128, 128}}) {
    // An offset and scale per channel, as activations have.
    const auto x = torch::randn({k.n, k.c, k.h, k.w}) * 3.0 + torch::randn({1, k.c, 1, 1}) * 2.0;
    const auto go = torch::randn({k.n, k.c, k.h, k.w});
    expect_like_aten_and_deterministic(
        [](const at::Tensor& v) { return fast_instance_norm2d(v, 1e-5); },
        [](const at::Tensor& v) {
          return at::instance_norm(v, {}, {}, {}, {}, true, 0.1, 1e-5, false);
        },
        x, go, false, 1e-5);
  }
}

TEST(ResnetLayers, ModulesFallBackToAten) {
  torch::manual_seed(7);
  const auto x = torch::randn({2, 4, 10, 12});
  FastReflectionPad2d pad(torch::nn::ReflectionPad2dOptions(2));
  EXPECT_NE(pad->as<torch::nn::ReflectionPad2dImpl>(), nullptr);
  EXPECT_TRUE(torch::equal(pad->forward(x), at::reflection_pad2d(x, {2, 2, 2, 2})));
  // Not contiguous: ATen's padding, the same values.
  const auto xt = x.transpose(2, 3);
  EXPECT_TRUE(torch::equal(pad->forward(xt), at::reflection_pad2d(xt, {2, 2, 2, 2})));

  FastInstanceNorm2d norm(4, 1e-5);
  EXPECT_TRUE(norm->named_parameters().is_empty());
  EXPECT_TRUE(norm->named_buffers().is_empty());
  torch::nn::InstanceNorm2d plain(torch::nn::InstanceNorm2dOptions(4).eps(1e-5));
  expect_close(norm->forward(x), plain->forward(x), 1e-5, "module forward");
  // Not contiguous: ATen's instance norm.
  expect_close(norm->forward(xt), plain->forward(xt), 1e-5, "module forward, transposed");
  EXPECT_ANY_THROW(norm->forward(torch::randn({2, 3, 10, 12})));
  // Padding larger than the side: a clear error.
  EXPECT_ANY_THROW(fast_reflection_pad2d(torch::randn({1, 1, 3, 3}), {3, 3, 3, 3}));
}

}  // namespace
}  // namespace cxrsynth::models
