#include "synth/bf16_unet.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"

namespace cxrsynth::synth {

namespace {

inline float bf16_to_float(std::uint16_t v) {
  const std::uint32_t u = static_cast<std::uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round to nearest even, as c10::BFloat16's conversion.
inline std::uint16_t float_to_bf16(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<std::uint16_t>(u >> 16);
}

inline const std::uint16_t* bf16_data(const at::Tensor& t) {
  return reinterpret_cast<const std::uint16_t*>(t.data_ptr<at::BFloat16>());
}
inline std::uint16_t* bf16_data(at::Tensor& t) {
  return reinterpret_cast<std::uint16_t*>(t.data_ptr<at::BFloat16>());
}

// [N, C, H, W] tensor in channels_last memory (NHWC), bf16.
at::Tensor empty_nhwc(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  return at::empty({n, c, h, w}, at::TensorOptions().dtype(at::kBFloat16),
                   at::MemoryFormat::ChannelsLast);
}

// Conv weights [O, I, 4, 4] of "nearest x2 -> pad (1, 2, 1, 2) -> conv 4x4 stride 1" as the
// weights [4 O, I, 3, 3] of a conv with padding 1 on the low-resolution input whose output
// channel (p * 2 + q) * O + o holds output pixel parity (p, q) of channel o (each parity's
// channels contiguous in NHWC). Row tap a of the 4x4 kernel lands on low-resolution row
// offset floor((p + a - 1) / 2) in {-1, 0, 1}.
at::Tensor subpixel_weight(const at::Tensor& w4) {
  const at::Tensor w = w4.to(at::kDouble).contiguous();
  CXRSYNTH_CHECK(w.dim() == 4 && w.size(2) == 4 && w.size(3) == 4, "expected 4x4 conv weights");
  const std::int64_t O = w.size(0), I = w.size(1);
  at::Tensor k = at::zeros({2, 2, O, I, 3, 3}, at::kDouble);
  auto W = w.accessor<double, 4>();
  auto K = k.accessor<double, 6>();
  auto tap = [](int p, int a) { return (p + a - 1 >= 0 ? (p + a - 1) / 2 : -1) + 1; };
  for (int p = 0; p < 2; ++p)
    for (int q = 0; q < 2; ++q)
      for (std::int64_t o = 0; o < O; ++o)
        for (std::int64_t i = 0; i < I; ++i)
          for (int a = 0; a < 4; ++a)
            for (int b = 0; b < 4; ++b) K[p][q][o][i][tap(p, a)][tap(q, b)] += W[o][i][a][b];
  return k.reshape({O * 4, I, 3, 3});
}

struct Dst {
  std::uint16_t* data;  // [N, H, W, ctot] bf16
  std::int64_t ctot;    // channels of the destination
  std::int64_t offset;  // first channel written
};

// The per-image loops, compiled for AVX-512 (this graph runs only on CPUs with AVX512_BF16,
// which all have AVX512F/BW; validate() in the engine refuses bf16 elsewhere).
#define CXRSYNTH_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma")))

// One image of act_norm (below). img: [h, w, r * r * c]; partial sums per row in float, per
// image in double.
CXRSYNTH_AVX512 void act_norm_image(const std::uint16_t* img, std::int64_t h, std::int64_t w,
                                    std::int64_t c, int r, float slope, const float* gamma,
                                    const float* beta, double eps, const Dst* dsts,
                                    std::size_t ndst, std::int64_t b) {
  const std::int64_t rr = static_cast<std::int64_t>(r) * r, cs = c * rr;
  std::vector<float> rs(static_cast<std::size_t>(cs)), rss(static_cast<std::size_t>(cs));
  std::vector<double> s(static_cast<std::size_t>(cs)), ss(static_cast<std::size_t>(cs));
  std::vector<float> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
  float* prs = rs.data();
  float* prss = rss.data();
  for (std::int64_t y = 0; y < h; ++y) {
    std::fill(rs.begin(), rs.end(), 0.0f);
    std::fill(rss.begin(), rss.end(), 0.0f);
    const std::uint16_t* row = img + y * w * cs;
    for (std::int64_t x = 0; x < w; ++x) {
      const std::uint16_t* px = row + x * cs;
      for (std::int64_t k = 0; k < cs; ++k) {
        float v = bf16_to_float(px[k]);
        v = v >= 0.0f ? v : v * slope;
        prs[k] += v;
        prss[k] += v * v;
      }
    }
    for (std::int64_t k = 0; k < cs; ++k) {
      s[static_cast<std::size_t>(k)] += prs[k];
      ss[static_cast<std::size_t>(k)] += prss[k];
    }
  }
  const double count = static_cast<double>(h * w * rr);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double sum = 0, sq = 0;
    for (std::int64_t j = 0; j < rr; ++j) {
      sum += s[static_cast<std::size_t>(j * c + ch)];
      sq += ss[static_cast<std::size_t>(j * c + ch)];
    }
    const double mean = sum / count;
    const double var = std::max(0.0, sq / count - mean * mean);
    const double sc = gamma[ch] / std::sqrt(var + eps);
    scale[static_cast<std::size_t>(ch)] = static_cast<float>(sc);
    shift[static_cast<std::size_t>(ch)] = static_cast<float>(beta[ch] - mean * sc);
  }
  const float* psc = scale.data();
  const float* psh = shift.data();
  const std::int64_t H = h * r, W = w * r;
  for (std::int64_t y = 0; y < h; ++y)
    for (std::int64_t x = 0; x < w; ++x)
      for (int p = 0; p < r; ++p)
        for (int q = 0; q < r; ++q) {
          const std::uint16_t* px = img + (y * w + x) * cs + (p * r + q) * c;
          const std::int64_t pix = (b * H + y * r + p) * W + x * r + q;
          for (std::size_t di = 0; di < ndst; ++di) {
            std::uint16_t* out = dsts[di].data + pix * dsts[di].ctot + dsts[di].offset;
            for (std::int64_t ch = 0; ch < c; ++ch) {
              float v = bf16_to_float(px[ch]);
              v = v >= 0.0f ? v : v * slope;
              out[ch] = float_to_bf16(v * psc[ch] + psh[ch]);
            }
          }
        }
}

// src: conv output [N, r * r * C, h, w] bf16 in NHWC (channel (p * r + q) * C + c holds
// output pixel (y * r + p, x * r + q) of channel c: a pixel shuffle when r = 2). Applies the
// activation (x >= 0 ? x : slope * x), then the instance norm of each output channel with
// affine gamma/beta, and writes bf16 into every destination [N, h * r, w * r, ctot] at
// channels offset .. offset + C. Parallel over images (each image's sums in a fixed order).
void act_norm(const at::Tensor& src, int r, float slope, const std::vector<float>& gamma,
              const std::vector<float>& beta, double eps, const std::vector<Dst>& dsts) {
  const std::int64_t n = src.size(0), cs = src.size(1), h = src.size(2), w = src.size(3);
  const std::int64_t rr = static_cast<std::int64_t>(r) * r, c = cs / rr;
  CXRSYNTH_CHECK(c * rr == cs && static_cast<std::int64_t>(gamma.size()) == c &&
                     src.is_contiguous(at::MemoryFormat::ChannelsLast),
                 "act_norm: {} channels for {} norm channels", cs, gamma.size());
  const std::uint16_t* in = bf16_data(src);
  at::parallel_for(0, n, 1, [&](std::int64_t b0, std::int64_t b1) {
    for (std::int64_t b = b0; b < b1; ++b)
      act_norm_image(in + b * h * w * cs, h, w, c, r, slope, gamma.data(), beta.data(), eps,
                     dsts.data(), dsts.size(), b);
  });
}

// Last layer: src [N, 4 C, h, w] bf16 NHWC (channel (p * 2 + q) * C + c) -> tanh -> fp32 NCHW
// [N, C, 2h, 2w]; with residual, clamp(x + tanh(.), -1, 1).
at::Tensor final_store(const at::Tensor& src, const at::Tensor& x, bool residual) {
  const std::int64_t n = src.size(0), cs = src.size(1), h = src.size(2), w = src.size(3);
  const std::int64_t c = cs / 4, H = 2 * h, W = 2 * w;
  CXRSYNTH_CHECK(src.is_contiguous(at::MemoryFormat::ChannelsLast), "final_store: layout");
  at::Tensor out = at::empty({n, c, H, W}, at::kFloat);
  const std::uint16_t* in = bf16_data(src);
  float* o = out.data_ptr<float>();
  const at::Tensor xc = residual ? x.to(at::kFloat).contiguous() : at::Tensor();
  const float* xin = residual ? xc.data_ptr<float>() : nullptr;
  at::parallel_for(0, n * c * H, 16, [&](std::int64_t r0, std::int64_t r1) {
    for (std::int64_t rowi = r0; rowi < r1; ++rowi) {
      const std::int64_t b = rowi / (c * H), ch = (rowi / H) % c, Y = rowi % H;
      const std::int64_t y = Y / 2, p = Y % 2;
      float* orow = o + rowi * W;
      for (std::int64_t X = 0; X < W; ++X) {
        const std::int64_t xx = X / 2, q = X % 2;
        float v = std::tanh(bf16_to_float(in[((b * h + y) * w + xx) * cs + (p * 2 + q) * c + ch]));
        if (residual) v = std::min(1.0f, std::max(-1.0f, xin[rowi * W + X] + v));
        orow[X] = v;
      }
    }
  });
  return out;
}

struct Layer {
  at::Tensor weight, bias;  // bf16; weight channels_last
  std::vector<float> gamma, beta;
  double eps = 0;
};

class Bf16Unet {
 public:
  explicit Bf16Unet(const models::Generator& net) : residual_(net->options().residual) {
    CXRSYNTH_CHECK(net->options().arch == "unet",
                   "the bf16 graph needs a U-Net generator, got arch '{}'", net->options().arch);
    const auto params = net->named_parameters();
    const auto modules = net->named_modules();
    auto param = [&](const std::string& key) {
      const auto* t = params.find(key);
      CXRSYNTH_CHECK(t != nullptr, "U-Net parameter '{}' not found", key);
      return t->detach();
    };
    auto layer = [&](const std::string& name, int conv_idx, int norm_idx, bool up) {
      Layer l;
      const std::string p = "net." + name + ".";
      at::Tensor w = param(p + std::to_string(conv_idx) + ".weight");
      at::Tensor bias = param(p + std::to_string(conv_idx) + ".bias");
      if (up) {
        w = subpixel_weight(w);
        bias = bias.repeat({4});
      }
      l.weight = w.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
      l.bias = bias.to(at::kBFloat16).contiguous();
      if (norm_idx >= 0) {
        const std::string nk = p + std::to_string(norm_idx);
        auto to_vec = [](const at::Tensor& t) {
          const at::Tensor f = t.to(at::kFloat).contiguous();
          return std::vector<float>(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
        };
        l.gamma = to_vec(param(nk + ".weight"));
        l.beta = to_vec(param(nk + ".bias"));
        const auto* m = modules.find(nk);
        CXRSYNTH_CHECK(m != nullptr, "U-Net module '{}' not found", nk);
        const auto* in = (*m)->as<torch::nn::InstanceNorm2d>();
        CXRSYNTH_CHECK(in != nullptr, "U-Net module '{}' is not an InstanceNorm2d", nk);
        l.eps = in->options.eps();
      }
      return l;
    };
    for (int i = 1; i <= 4; ++i) down_.push_back(layer("down" + std::to_string(i), 0, 2, false));
    for (int i = 1; i <= 3; ++i) up_.push_back(layer("up" + std::to_string(i), 2, 4, true));
    final_ = layer("final", 2, -1, true);
  }

  at::Tensor operator()(const at::Tensor& x) const {
    CXRSYNTH_CHECK(x.dim() == 4 && x.size(2) % 16 == 0 && x.size(3) % 16 == 0,
                   "bf16 U-Net: input {} is not [N, C, S, S] with S a multiple of 16",
                   c10::str(x.sizes()));
    c10::InferenceMode guard;
    const std::int64_t n = x.size(0);
    at::Tensor h = x.to(at::kBFloat16).contiguous(at::MemoryFormat::ChannelsLast);
    // Skip tensors d1..d3 are written straight into the second half of the concat buffers
    // of up3..up1 (as torch::cat({up(u), d}, 1)).
    std::vector<at::Tensor> cats(3);
    for (std::size_t i = 0; i < down_.size(); ++i) {
      const Layer& l = down_[i];
      const at::Tensor y = conv(h, l, 2);
      const std::int64_t c = y.size(1), hh = y.size(2), ww = y.size(3);
      at::Tensor d = empty_nhwc(n, c, hh, ww);
      std::vector<Dst> dsts{{bf16_data(d), c, 0}};
      if (i < 3) {
        // concat of up_{3 - i}: its up output has as many channels as this skip.
        cats[i] = empty_nhwc(n, 2 * c, hh, ww);
        dsts.push_back({bf16_data(cats[i]), 2 * c, c});
      }
      act_norm(y, 1, 0.2f, l.gamma, l.beta, l.eps, dsts);
      h = d;
    }
    for (std::size_t j = 0; j < up_.size(); ++j) {
      const Layer& l = up_[j];
      const at::Tensor y = conv(h, l, 1);
      at::Tensor& cat = cats[2 - j];
      CXRSYNTH_CHECK(cat.size(1) == 2 * (y.size(1) / 4) && cat.size(2) == 2 * y.size(2),
                     "bf16 U-Net: unexpected shapes");
      act_norm(y, 2, 0.0f, l.gamma, l.beta, l.eps, {{bf16_data(cat), cat.size(1), 0}});
      h = cat;
    }
    return final_store(conv(h, final_, 1), x, residual_);
  }

 private:
  static at::Tensor conv(const at::Tensor& h, const Layer& l, std::int64_t stride) {
    return at::conv2d(h, l.weight, l.bias, {stride, stride}, {1, 1})
        .contiguous(at::MemoryFormat::ChannelsLast);
  }

  bool residual_;
  std::vector<Layer> down_, up_;
  Layer final_;
};

}  // namespace

bool bf16_unet_supported(const models::GeneratorOptions& options) {
  return options.arch == "unet";
}

Translator make_bf16_unet_translator(const models::Generator& net) {
  auto graph = std::make_shared<const Bf16Unet>(net);
  return [graph](const at::Tensor& x) { return (*graph)(x); };
}

}  // namespace cxrsynth::synth
