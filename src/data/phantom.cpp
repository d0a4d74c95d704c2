#include "data/phantom.h"

#include <fmt/format.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/progress.h"

namespace cxrsynth::data {

namespace {

constexpr double kPi = 3.14159265358979323846;
// Soft edges are this wide in normalised units (about 0.6 px at 64 px, sharp at 512).
constexpr double kEdge = 0.02;

// 0 outside, 1 inside, a smoothstep of width 2w across the boundary at signed distance 0
// (d > 0 inside). Polynomial, not a logistic: it is evaluated millions of times.
inline double soft_inside(double d, double w) {
  double t = 0.5 + d / (2.0 * w);
  if (t <= 0.0) return 0.0;
  if (t >= 1.0) return 1.0;
  return t * t * (3.0 - 2.0 * t);
}

double log_uniform(Rng& rng, double lo, double hi) {
  return std::exp(rng.uniform(std::log(lo), std::log(hi)));
}

// Lateral direction of lung i: image-left lung (0) lies at negative u.
inline double lateral_sign(int i) {
  return i == 0 ? -1.0 : 1.0;
}

struct LungSample {
  double inside;  // soft membership
  double shade;   // relative air darkness at this point (darker at the apex and laterally)
};

LungSample eval_lung(const PhantomLung& l, double lat, double u, double v) {
  const double dv = v - l.cy;
  const double du = (u - l.cx) - lat * l.tilt * dv;  // apex leans towards the midline
  const double w = l.rx * std::max(0.35, 1.0 + l.taper * dv / l.ry);
  const double x = du / w;  // -1..1 across the lung at this height
  const double y = dv / l.ry;
  // Rounder apex (power 2), squarer base (power 3) for the costophrenic angles.
  const double p = y < 0 ? 2.0 : 3.0;
  const double r = std::pow(std::pow(std::abs(x), p) + std::pow(std::abs(y), p), 1.0 / p);
  double inside = soft_inside((1.0 - r) * std::min(w, l.ry), kEdge);
  // Diaphragm dome: highest medially, lowest at the lateral costophrenic angle.
  const double x_lat = lat * x;  // +1 lateral, -1 medial
  const double dome = l.ry * (0.6 + 0.1 * x_lat + 0.35 * x_lat * x_lat);
  inside *= soft_inside(dome - dv, kEdge);
  // Vessels and hila make the medial and lower lung less dark.
  const double shade = 1.08 - 0.12 * y - 0.25 * std::exp(-(x_lat + 1.0) * (x_lat + 1.0) / 0.35);
  return {inside, shade};
}

double eval_heart(const PhantomAnatomy& a, double u, double v) {
  const double x = (u - a.heart_cx) / a.heart_rx;
  const double y = (v - a.heart_cy) / a.heart_ry;
  const double r = std::sqrt(x * x + y * y);
  return soft_inside((1.0 - r) * std::min(a.heart_rx, a.heart_ry), kEdge);
}

double eval_body(const PhantomAnatomy& a, double u, double v) {
  const double du = std::abs(u - a.body_cx) / a.body_w;
  const double dv = std::abs(v - a.body_cy) / a.body_h;
  const double r =
      std::pow(std::pow(du, a.body_power) + std::pow(dv, a.body_power), 1.0 / a.body_power);
  const double torso = soft_inside((1.0 - r) * a.body_w, kEdge);
  const double neck = soft_inside(a.neck_w - std::abs(u - a.body_cx), kEdge);
  return std::max(torso, neck);
}

double segment_distance(double px, double py, double ax, double ay, double bx, double by) {
  const double vx = bx - ax, vy = by - ay;
  double t = ((px - ax) * vx + (py - ay) * vy) / (vx * vx + vy * vy);
  t = std::clamp(t, 0.0, 1.0);
  const double dx = px - (ax + t * vx), dy = py - (ay + t * vy);
  return std::sqrt(dx * dx + dy * dy);
}

double eval_opacity(const PhantomOpacity& o, double u, double v) {
  const double du = u - o.cx, dv = v - o.cy;
  const double c = std::cos(o.angle), s = std::sin(o.angle);
  const double x = (c * du + s * dv) / o.rx;
  const double y = (-s * du + c * dv) / o.ry;
  const double q = x * x + y * y;
  if (q > 30.0) return 0.0;
  return o.peak * std::exp(-0.5 * (o.flatness == 1.0 ? q : std::pow(q, o.flatness)));
}

// Smooth unit-variance noise: white noise on a fixed 10 x 10 grid (so the texture scale is
// the same at every image size), cubic-upsampled, normalised to unit std.
cv::Mat smooth_noise(int size, Rng& rng) {
  constexpr int kGrid = 10;
  cv::Mat grid(kGrid, kGrid, CV_32F);
  for (int i = 0; i < kGrid * kGrid; ++i) grid.at<float>(i) = static_cast<float>(rng.normal());
  cv::Mat field;
  cv::resize(grid, field, cv::Size(size, size), 0, 0, cv::INTER_CUBIC);
  cv::Scalar mean, stddev;
  cv::meanStdDev(field, mean, stddev);
  field = (field - mean[0]) / std::max(stddev[0], 1e-6);
  return field;
}

// Pixel centre -> normalised image coordinates -> anatomy coordinates (through the pose).
struct Grid {
  int size;
  const PhantomAnatomy& a;
  double u(int x) const { return ((2.0 * (x + 0.5) / size - 1.0) - a.pose_du) / a.pose_scale; }
  double v(int y) const { return ((2.0 * (y + 0.5) / size - 1.0) - a.pose_dv) / a.pose_scale; }
};

void check_size(int size) {
  // The options allow 32 to 512 (tested); direct callers get some slack either way.
  if (size < 16 || size > 2048) {
    throw UsageError(
        fmt::format("phantom image size {} is out of range; expected 16 to 2048", size));
  }
}

}  // namespace

const char* phantom_class_name(PhantomClass c) {
  switch (c) {
    case PhantomClass::kNormal:
      return "normal";
    case PhantomClass::kPneumonia:
      return "pneumonia";
    case PhantomClass::kCovid:
      return "covid";
  }
  return "?";
}

PhantomAnatomy sample_anatomy(Rng& rng) {
  PhantomAnatomy a;
  a.body_cx = rng.uniform(-0.03, 0.03);
  a.body_cy = rng.uniform(0.22, 0.32);
  a.body_w = rng.uniform(0.88, 0.97);
  a.body_h = rng.uniform(1.02, 1.12);
  a.body_power = rng.uniform(3.2, 4.2);
  a.neck_w = rng.uniform(0.17, 0.23);
  a.tissue = rng.uniform(0.58, 0.66);
  a.background = rng.uniform(0.02, 0.06);
  const double lung_cy = rng.uniform(-0.04, 0.04);
  const double lung_rx = rng.uniform(0.24, 0.30);
  const double lung_ry = rng.uniform(0.50, 0.60);
  const double lung_dx = rng.uniform(0.36, 0.42);
  const double darkness = rng.uniform(0.30, 0.40);
  for (int i = 0; i < 2; ++i) {
    PhantomLung& l = a.lung[i];
    const double lat = lateral_sign(i);
    l.cx = a.body_cx + lat * (lung_dx + rng.uniform(-0.02, 0.02));
    l.cy = lung_cy + rng.uniform(-0.02, 0.02);
    l.rx = lung_rx * rng.uniform(0.94, 1.06);
    l.ry = lung_ry * rng.uniform(0.95, 1.05);
    l.taper = rng.uniform(0.22, 0.34);
    l.tilt = rng.uniform(0.08, 0.2);
    l.darkness = darkness * rng.uniform(0.95, 1.05);
  }
  // The patient's left (image right) hemidiaphragm sits lower and its lung is narrower
  // where the heart is.
  a.lung[0].ry *= 0.97;
  a.heart_cx = a.body_cx + rng.uniform(0.07, 0.14);
  a.heart_cy = lung_cy + rng.uniform(0.2, 0.27);
  a.heart_rx = rng.uniform(0.26, 0.32);
  a.heart_ry = rng.uniform(0.21, 0.27);
  a.heart_density = rng.uniform(0.8, 0.92);  // fraction of the lung air displaced
  a.spine_w = rng.uniform(0.06, 0.08);
  a.spine_density = rng.uniform(0.08, 0.13);
  a.vertebra_period = rng.uniform(0.10, 0.12);
  a.n_ribs = 10;
  a.rib_top = rng.uniform(-0.80, -0.72);
  a.rib_spacing = rng.uniform(0.115, 0.13);
  a.rib_rise = rng.uniform(0.08, 0.16);
  a.rib_curve = rng.uniform(0.45, 0.65);
  a.rib_width = rng.uniform(0.040, 0.050);
  a.rib_density = rng.uniform(0.05, 0.08);
  a.clav_inner_u = rng.uniform(0.10, 0.14);
  a.clav_inner_v = rng.uniform(-0.66, -0.60);
  a.clav_outer_u = rng.uniform(0.58, 0.68);
  a.clav_outer_v = a.clav_inner_v - rng.uniform(0.04, 0.12);
  a.clav_width = rng.uniform(0.045, 0.06);
  a.clav_density = rng.uniform(0.12, 0.18);
  return a;
}

PhantomAnatomy vary_anatomy(const PhantomAnatomy& base, Rng& rng) {
  PhantomAnatomy a = base;
  a.pose_scale = 1.0 + 0.015 * rng.normal();
  a.pose_du = 0.015 * rng.normal();
  a.pose_dv = 0.015 * rng.normal();
  const double inspiration = 1.0 + 0.02 * rng.normal();  // deeper breath: taller lungs
  for (auto& l : a.lung) {
    l.ry *= inspiration;
    l.cy += 0.5 * (inspiration - 1.0) * l.ry;
  }
  a.gain = 1.0 + 0.03 * rng.normal();
  a.offset = 0.01 * rng.normal();
  return a;
}

std::vector<PhantomOpacity> sample_findings(PhantomClass c, const PhantomAnatomy& a,
                                            const PhantomOptions& o, Rng& rng) {
  std::vector<PhantomOpacity> out;
  // A point of lung i at lateral position x_lat (+1 lateral edge) and height y (-1 apex,
  // +1 base) in anatomy coordinates.
  auto lung_point = [&](int i, double x_lat, double y, double& u, double& v) {
    const PhantomLung& l = a.lung[i];
    const double lat = lateral_sign(i);
    const double dv = y * l.ry;
    const double w = l.rx * std::max(0.35, 1.0 + l.taper * dv / l.ry);
    u = l.cx + lat * x_lat * w + lat * l.tilt * dv;
    v = l.cy + dv;
  };
  if (c == PhantomClass::kCovid) {
    // Bilateral, peripheral, lower-zone ground glass (PHANTOM-DEMO.md recipe).
    const int n = o.covid_patches_min +
                  static_cast<int>(rng.below(o.covid_patches_max - o.covid_patches_min + 1));
    for (int k = 0; k < n; ++k) {
      const int lung = k < 2 ? k : static_cast<int>(rng.below(2));
      PhantomOpacity p;
      lung_point(lung, rng.uniform(0.35, 0.85), rng.uniform(0.05, 0.6), p.cx, p.cy);
      const double r = rng.uniform(o.covid_radius_min, o.covid_radius_max);
      p.rx = r * rng.uniform(0.8, 1.25);
      p.ry = r * rng.uniform(0.8, 1.25);
      p.angle = rng.uniform(0.0, kPi);
      p.peak = log_uniform(rng, o.covid_peak_min, o.covid_peak_max);
      p.flatness = 1.0;
      p.texture = 0.35;
      out.push_back(p);
    }
  } else if (c == PhantomClass::kPneumonia) {
    // One lobar consolidation: a dense region with a flat core filling much of a lobe.
    const int lung = static_cast<int>(rng.below(2));
    const PhantomLung& l = a.lung[lung];
    const bool lower = rng.uniform() < 0.65;
    PhantomOpacity p;
    lung_point(lung, rng.uniform(0.0, 0.3),
               lower ? rng.uniform(0.3, 0.5) : rng.uniform(-0.4, -0.15), p.cx, p.cy);
    p.rx = l.rx * rng.uniform(0.9, 1.2);
    p.ry = l.ry * rng.uniform(0.3, 0.45);
    p.angle = rng.uniform(-0.3, 0.3);
    p.peak = rng.uniform(o.pneumonia_peak_min, o.pneumonia_peak_max);
    p.flatness = 2.5;
    p.texture = 0.25;
    out.push_back(p);
  }
  return out;
}

std::vector<PhantomOpacity> vary_findings(const std::vector<PhantomOpacity>& findings, Rng& rng) {
  std::vector<PhantomOpacity> out = findings;
  for (auto& p : out) p.peak *= std::max(0.5, 1.0 + 0.08 * rng.normal());
  return out;
}

cv::Mat render_phantom(const PhantomAnatomy& a, const std::vector<PhantomOpacity>& findings,
                       int size, double noise, double grain, std::uint64_t noise_seed) {
  check_size(size);
  Rng rng(noise_seed);
  const cv::Mat smooth = smooth_noise(size, rng);
  const cv::Mat texture = smooth_noise(size, rng);
  const Grid g{size, a};
  cv::Mat img(size, size, CV_32F);
  for (int y = 0; y < size; ++y) {
    const double v = g.v(y);
    float* row = img.ptr<float>(y);
    const float* srow = smooth.ptr<float>(y);
    const float* trow = texture.ptr<float>(y);
    for (int x = 0; x < size; ++x) {
      const double u = g.u(x);
      const double body = eval_body(a, u, v);
      double val = a.background + (a.tissue - a.background) * body;
      // The heart shadow displaces lung air (it is no brighter than the mediastinum).
      const double heart = eval_heart(a, u, v);
      double lung_union = 0.0;
      for (int i = 0; i < 2; ++i) {
        const LungSample ls = eval_lung(a.lung[i], lateral_sign(i), u, v);
        lung_union = std::max(lung_union, ls.inside);
        val -= a.lung[i].darkness * ls.shade * ls.inside * (1.0 - a.heart_density * heart);
      }
      // Spine: vertebral bodies with darker discs between them.
      const double su = std::abs(u - a.body_cx);
      if (su < a.spine_w + kEdge) {
        const double disc = 0.75 + 0.25 * std::cos(2.0 * kPi * v / a.vertebra_period);
        val += a.spine_density * disc * soft_inside(a.spine_w - su, kEdge) * body;
      }
      // Posterior ribs: arcs from the spine, rising a little, then curving down laterally.
      const double t = su - 0.06;
      if (t > 0.0 && t < 0.9) {
        double rib = 0.0;
        const double base = -a.rib_rise * t + a.rib_curve * t * t;
        for (int k = 0; k < a.n_ribs; ++k) {
          const double d = std::abs(v - (a.rib_top + k * a.rib_spacing + base));
          if (d < a.rib_width) rib = std::max(rib, soft_inside(0.5 * a.rib_width - d, 0.01));
        }
        val += a.rib_density * rib * (0.35 + 0.65 * lung_union) * body;
      }
      // Clavicles.
      const double side = u < a.body_cx ? -1.0 : 1.0;
      const double dc = segment_distance(u, v, a.body_cx + side * a.clav_inner_u, a.clav_inner_v,
                                         a.body_cx + side * a.clav_outer_u, a.clav_outer_v);
      if (dc < a.clav_width) val += a.clav_density * soft_inside(0.5 * a.clav_width - dc, 0.01);
      // Findings, inside the lung fields only.
      if (!findings.empty() && lung_union > 0.0) {
        double opacity = 0.0;
        for (const auto& f : findings) {
          const double o = eval_opacity(f, u, v);
          if (o > 0.0) opacity += o * std::max(0.0, 1.0 + f.texture * trow[x]);
        }
        // Opacities replace air, so none shows where the heart already displaced it.
        val += opacity * lung_union * (1.0 - a.heart_density * heart);
      }
      val = a.gain * val + a.offset + noise * srow[x];
      row[x] = static_cast<float>(val);
    }
  }
  // Detector blur: half a pixel (larger images are sharper, as real ones).
  cv::GaussianBlur(img, img, cv::Size(0, 0), 0.5);
  if (grain > 0.0) {
    for (int y = 0; y < size; ++y) {
      float* row = img.ptr<float>(y);
      for (int x = 0; x < size; ++x) row[x] += static_cast<float>(grain * rng.normal());
    }
  }
  cv::min(cv::max(img, 0.0), 1.0, img);
  return img;
}

cv::Mat phantom_lung_mask(const PhantomAnatomy& a, int size) {
  check_size(size);
  const Grid g{size, a};
  cv::Mat mask(size, size, CV_8U);
  for (int y = 0; y < size; ++y) {
    const double v = g.v(y);
    auto* row = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < size; ++x) {
      const double u = g.u(x);
      double lung = 0.0;
      for (int i = 0; i < 2; ++i) {
        lung = std::max(lung, eval_lung(a.lung[i], lateral_sign(i), u, v).inside);
      }
      row[x] = (lung > 0.5 && eval_heart(a, u, v) < 0.5) ? 255 : 0;
    }
  }
  return mask;
}

std::string phantom_patient_id(PhantomClass c, int patient_index) {
  return fmt::format("PH{}{:05d}", static_cast<int>(c), patient_index);
}

PhantomImage make_phantom_image(PhantomClass c, int patient_index, int view_index,
                                const PhantomOptions& o, std::uint64_t seed) {
  PhantomImage out;
  out.label = c;
  out.patient_id = phantom_patient_id(c, patient_index);
  out.view_index = view_index;
  const std::string key = fmt::format("phantom/{}/{}", phantom_class_name(c), patient_index);
  Rng anatomy_rng(derive_seed(seed, key + "/anatomy"));
  const PhantomAnatomy base = sample_anatomy(anatomy_rng);
  Rng findings_rng(derive_seed(seed, key + "/findings"));
  const auto findings = sample_findings(c, base, o, findings_rng);
  const std::string image_key = fmt::format("{}/image/{}", key, view_index);
  Rng pose_rng(derive_seed(seed, image_key + "/pose"));
  out.anatomy = vary_anatomy(base, pose_rng);
  out.findings = vary_findings(findings, pose_rng);
  out.image = render_phantom(out.anatomy, out.findings, o.image_size, o.noise, o.grain,
                             derive_seed(seed, image_key + "/noise"));
  out.lung_mask = phantom_lung_mask(out.anatomy, o.image_size);
  return out;
}

void validate_phantom_options(const PhantomOptions& o) {
  auto fail = [](const std::string& key, const std::string& value, const std::string& expected) {
    throw UsageError(
        fmt::format("data.phantom.{}: bad value {}; expected {}", key, value, expected));
  };
  if (o.image_size < 32 || o.image_size > 512) {
    fail("image_size", std::to_string(o.image_size), "32 to 512");
  }
  if (o.n_normal < 0) fail("n_normal", std::to_string(o.n_normal), ">= 0");
  if (o.n_pneumonia < 0) fail("n_pneumonia", std::to_string(o.n_pneumonia), ">= 0");
  if (o.n_covid < 0) fail("n_covid", std::to_string(o.n_covid), ">= 0");
  if (o.n_normal + o.n_pneumonia + o.n_covid == 0) {
    fail("n_normal", "0", "at least one image over n_normal, n_pneumonia, n_covid");
  }
  if (o.images_per_patient < 1) {
    fail("images_per_patient", std::to_string(o.images_per_patient), ">= 1");
  }
  if (!(o.covid_peak_min > 0 && o.covid_peak_min <= o.covid_peak_max)) {
    fail("covid_peak_min", fmt::format("{} (max {})", o.covid_peak_min, o.covid_peak_max),
         "0 < covid_peak_min <= covid_peak_max");
  }
  if (!(o.covid_patches_min >= 2 && o.covid_patches_min <= o.covid_patches_max)) {
    fail("covid_patches_min", fmt::format("{} (max {})", o.covid_patches_min, o.covid_patches_max),
         "2 <= covid_patches_min <= covid_patches_max (bilateral needs two)");
  }
  if (!(o.covid_radius_min > 0 && o.covid_radius_min <= o.covid_radius_max)) {
    fail("covid_radius_min", fmt::format("{} (max {})", o.covid_radius_min, o.covid_radius_max),
         "0 < covid_radius_min <= covid_radius_max");
  }
  if (!(o.pneumonia_peak_min > 0 && o.pneumonia_peak_min <= o.pneumonia_peak_max)) {
    fail("pneumonia_peak_min",
         fmt::format("{} (max {})", o.pneumonia_peak_min, o.pneumonia_peak_max),
         "0 < pneumonia_peak_min <= pneumonia_peak_max");
  }
  if (!(o.noise >= 0)) fail("noise", fmt::format("{}", o.noise), ">= 0");
  if (!(o.grain >= 0)) fail("grain", fmt::format("{}", o.grain), ">= 0");
  if (o.bit_depth != 8 && o.bit_depth != 16) {
    fail("bit_depth", std::to_string(o.bit_depth), "8 or 16");
  }
}

void write_phantom_dataset(const PhantomOptions& o, std::uint64_t seed,
                           const std::filesystem::path& out_dir, int threads) {
  validate_phantom_options(o);
  struct Job {
    PhantomClass cls;
    int patient, view;
    std::string rel;
  };
  std::vector<Job> jobs;
  for (const auto& [cls, n] : {std::pair{PhantomClass::kNormal, o.n_normal},
                               std::pair{PhantomClass::kPneumonia, o.n_pneumonia},
                               std::pair{PhantomClass::kCovid, o.n_covid}}) {
    if (n > 0) std::filesystem::create_directories(out_dir / phantom_class_name(cls));
    for (int i = 0; i < n; ++i) {
      const int patient = i / o.images_per_patient;
      const int view = i % o.images_per_patient;
      jobs.push_back({cls, patient, view,
                      fmt::format("{}/{}_{}.png", phantom_class_name(cls),
                                  phantom_patient_id(cls, patient), view)});
    }
  }
  const std::vector<int> png_params = {cv::IMWRITE_PNG_COMPRESSION, 6};
  auto write_one = [&](const Job& job) {
    const PhantomImage im = make_phantom_image(job.cls, job.patient, job.view, o, seed);
    cv::Mat stored;
    im.image.convertTo(stored, o.bit_depth == 16 ? CV_16U : CV_8U,
                       o.bit_depth == 16 ? 65535.0 : 255.0);
    std::vector<std::uint8_t> bytes;
    CXRSYNTH_CHECK(cv::imencode(".png", stored, bytes, png_params), "PNG encoding failed");
    // Plain writes (no fsync per image: thousands of them); labels.csv below is atomic and
    // written last, so a set without it is incomplete.
    const auto path = out_dir / job.rel;
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
    f.close();
    if (!f) throw Error(fmt::format("cannot write phantom image {}", path.string()));
  };

  // Every image has its own seeds, so the files do not depend on the thread count. The
  // calling thread works too and is the only one that reports progress.
  ProgressOptions po;
  po.unit = "img";
  Progress progress("phantom", static_cast<std::int64_t>(jobs.size()), po);
  parallel_for(
      jobs.size(), std::clamp(threads, 1, 64), [&](std::size_t i) { write_one(jobs[i]); },
      [&](std::size_t done) { progress.update(static_cast<std::int64_t>(done)); });
  progress.finish();

  std::string csv = csv_line({"path", "label", "subtype", "patient_id", "view"});
  for (const auto& job : jobs) {
    const char* subtype = job.cls == PhantomClass::kNormal      ? "clear lungs"
                          : job.cls == PhantomClass::kPneumonia ? "lobar consolidation"
                                                                : "ground-glass opacities";
    csv += csv_line({job.rel, phantom_class_name(job.cls), subtype,
                     phantom_patient_id(job.cls, job.patient), "PA"});
  }
  write_file_atomic(out_dir / "labels.csv", csv);
}

namespace {

// Pixel values of `image01` as doubles in [0, 1] at the nonzero pixels of `mask`.
std::vector<double> masked_values(const cv::Mat& image01, const cv::Mat& mask) {
  CXRSYNTH_CHECK(image01.channels() == 1, "lung score: expected a one-channel image, got {}",
                 image01.channels());
  CXRSYNTH_CHECK(mask.type() == CV_8U, "lung score: expected a CV_8U mask, got type {}",
                 mask.type());
  CXRSYNTH_CHECK(image01.size() == mask.size(), "lung score: image is {}x{} but the mask is {}x{}",
                 image01.cols, image01.rows, mask.cols, mask.rows);
  double scale = 1.0;
  if (image01.depth() == CV_8U)
    scale = 1.0 / 255.0;
  else if (image01.depth() == CV_16U)
    scale = 1.0 / 65535.0;
  else
    CXRSYNTH_CHECK(image01.depth() == CV_32F || image01.depth() == CV_64F,
                   "lung score: unsupported image depth {}", image01.depth());
  cv::Mat d;
  image01.convertTo(d, CV_64F, scale);
  std::vector<double> values;
  for (int y = 0; y < d.rows; ++y) {
    const double* row = d.ptr<double>(y);
    const auto* m = mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < d.cols; ++x) {
      if (m[x]) values.push_back(row[x]);
    }
  }
  CXRSYNTH_CHECK(!values.empty(), "lung score: the lung mask is empty");
  return values;
}

// Otsu's threshold on values in [0, 1] (256 bins); returns the threshold in [0, 1].
double otsu(const std::vector<double>& values) {
  std::array<double, 256> hist{};
  for (double v : values) hist[static_cast<int>(std::clamp(v, 0.0, 1.0) * 255.0 + 0.5)] += 1.0;
  const double total = static_cast<double>(values.size());
  double sum = 0.0;
  for (int i = 0; i < 256; ++i) sum += i * hist[i];
  double w0 = 0.0, sum0 = 0.0, best = -1.0;
  int best_t = 0;
  for (int t = 0; t < 256; ++t) {
    w0 += hist[t];
    sum0 += t * hist[t];
    const double w1 = total - w0;
    if (w0 == 0.0 || w1 == 0.0) continue;
    const double m0 = sum0 / w0, m1 = (sum - sum0) / w1;
    const double between = w0 * w1 * (m0 - m1) * (m0 - m1);
    if (between > best) {
      best = between;
      best_t = t;
    }
  }
  return (best_t + 0.5) / 255.0;
}

cv::Mat fill_holes(const cv::Mat& mask) {
  // Flood the background from a padded border; what it cannot reach is a hole.
  cv::Mat padded;
  cv::copyMakeBorder(mask, padded, 1, 1, 1, 1, cv::BORDER_CONSTANT, 0);
  cv::floodFill(padded, cv::Point(0, 0), 128);
  cv::Mat filled = padded(cv::Rect(1, 1, mask.cols, mask.rows)) != 128;
  return filled;
}

}  // namespace

double lung_opacity_score(const cv::Mat& image01, const cv::Mat& lung_mask) {
  std::vector<double> values = masked_values(image01, lung_mask);
  double mean = 0.0;
  for (double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  // 20th percentile, linear interpolation (numpy.percentile's default).
  const double pos = 0.2 * static_cast<double>(values.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  std::nth_element(values.begin(), values.begin() + lo, values.end());
  const double a = values[lo];
  double b = a;
  if (lo + 1 < values.size()) b = *std::min_element(values.begin() + lo + 1, values.end());
  const double p20 = a + (pos - static_cast<double>(lo)) * (b - a);
  return mean - p20;
}

cv::Mat estimate_lung_mask(const cv::Mat& image01) {
  CXRSYNTH_CHECK(image01.channels() == 1 && !image01.empty(),
                 "lung mask estimate: expected a non-empty one-channel image");
  const int size = std::min(image01.rows, image01.cols);
  cv::Mat all(image01.size(), CV_8U, cv::Scalar(255));
  std::vector<double> values = masked_values(image01, all);
  cv::Mat img(image01.size(), CV_64F);
  std::copy(values.begin(), values.end(), img.ptr<double>(0));
  cv::GaussianBlur(img, img, cv::Size(0, 0), std::max(0.7, size / 64.0));

  // Body: the bright region (Otsu over the whole image) with its enclosed holes (the lungs).
  std::vector<double> blurred(img.begin<double>(), img.end<double>());
  cv::Mat body = fill_holes(img > otsu(blurred));
  // Lungs: the dark part of the body (Otsu over body pixels), away from the body outline.
  const int r = std::max(1, size / 32);
  const cv::Mat kernel =
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * r + 1, 2 * r + 1));
  cv::Mat inner;
  cv::erode(body, inner, kernel);
  const std::vector<double> body_values = masked_values(img, inner);
  cv::Mat dark = (img < otsu(body_values)) & inner;
  cv::morphologyEx(dark, dark, cv::MORPH_OPEN, kernel);

  cv::Mat labels, stats, centroids;
  const int n = cv::connectedComponentsWithStats(dark, labels, stats, centroids, 8, CV_32S);
  std::vector<std::pair<int, int>> areas;  // (area, label), label 0 is the background
  for (int i = 1; i < n; ++i) areas.emplace_back(stats.at<int>(i, cv::CC_STAT_AREA), i);
  std::sort(areas.begin(), areas.end(), std::greater<>());
  const int min_area = image01.rows * image01.cols / 100;
  cv::Mat lungs(image01.size(), CV_8U, cv::Scalar(0));
  for (std::size_t k = 0; k < areas.size() && k < 2; ++k) {
    if (areas[k].first < min_area) break;
    lungs |= (labels == areas[k].second);
  }
  CXRSYNTH_CHECK(cv::countNonZero(lungs) > 0,
                 "lung mask estimate: no dark region inside the body of at least 1% of the "
                 "image; is this a frontal chest radiograph?");
  cv::morphologyEx(lungs, lungs, cv::MORPH_CLOSE, kernel);
  return fill_holes(lungs);
}

PhantomScoreSummary phantom_score_summary(const PhantomOptions& o, std::uint64_t seed,
                                          int images_per_class, bool estimated_masks) {
  validate_phantom_options(o);
  CXRSYNTH_CHECK(images_per_class >= 2,
                 "phantom score summary: need at least 2 images per "
                 "class, got {}",
                 images_per_class);
  auto stats = [&](PhantomClass c, double& mean, double& sd) {
    double sum = 0.0, sum2 = 0.0;
    for (int i = 0; i < images_per_class; ++i) {
      const PhantomImage im =
          make_phantom_image(c, i / o.images_per_patient, i % o.images_per_patient, o, seed);
      const double s = lung_opacity_score(
          im.image, estimated_masks ? estimate_lung_mask(im.image) : im.lung_mask);
      sum += s;
      sum2 += s * s;
    }
    const double n = images_per_class;
    mean = sum / n;
    sd = std::sqrt(std::max(0.0, (sum2 - n * mean * mean) / (n - 1.0)));
  };
  PhantomScoreSummary out;
  stats(PhantomClass::kNormal, out.normal_mean, out.normal_sd);
  stats(PhantomClass::kPneumonia, out.pneumonia_mean, out.pneumonia_sd);
  stats(PhantomClass::kCovid, out.covid_mean, out.covid_sd);
  return out;
}

}  // namespace cxrsynth::data
