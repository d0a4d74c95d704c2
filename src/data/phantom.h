// Built-in procedural chest X-ray phantoms: the data of the demo and of most tests.
//
// Geometry lives in normalised image coordinates (u, v) in [-1, 1] (u to the right, v down;
// the image half-width is 1), so one anatomy renders at any size from 32 to 512 pixels.
// Image values are in [0, 1], bright = dense (bone, soft tissue, opacities), as on a
// radiograph. Each patient has an anatomy (body outline, lung fields, ribs, clavicles, spine,
// heart shadow) drawn from per-patient ranges; each of its images varies it slightly (pose,
// inspiration, exposure) and adds fresh noise. Disease appears as in the paper's classes:
//   covid     bilateral, peripheral, lower-zone ground-glass opacities (2-5 soft patches);
//   pneumonia one dense lobar consolidation in one lung;
//   normal    clear lungs.
// Difficulty follows ../shared/design/PHANTOM-DEMO.md: lung_opacity_score separates normal
// from covid with an AUC of about 0.85 at the defaults, so a classifier has real work to do.
//
// Every random draw comes from cxrsynth::Rng seeded through derive_seed with a name that
// holds the class, the patient and the image index, so outputs are byte-identical for a seed
// and independent of generation order or thread count.
#pragma once

#include <opencv2/core.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/seed.h"
#include "data/phantom_options.h"

namespace cxrsynth::data {

enum class PhantomClass { kNormal, kPneumonia, kCovid };

// "normal" | "pneumonia" | "covid" (the manifest labels).
const char* phantom_class_name(PhantomClass c);

// One lung field: an egg-shaped ellipse, narrower at the apex, tilted.
struct PhantomLung {
  double cx = 0, cy = 0;  // centre
  double rx = 0, ry = 0;  // half-axes
  double taper = 0;       // apex narrowing: half-width scales by 1 + taper * (v - cy) / ry
  double tilt = 0;        // radians; apex leans towards the midline
  double darkness = 0;    // how much air lowers the brightness inside the field
};

// A soft elliptical opacity (Gaussian profile), added inside the lung fields.
struct PhantomOpacity {
  double cx = 0, cy = 0;  // centre
  double rx = 0, ry = 0;  // 1-sigma half-axes
  double angle = 0;       // radians
  double peak = 0;        // brightness added at the centre
  double flatness = 1;    // profile exp(-0.5 q^flatness), q = squared normalised radius:
                          //   1 = Gaussian (ground glass), 2-3 = flat core (consolidation)
  double texture = 0;     // 0 = smooth; >0 modulates by the per-image smooth noise
};

struct PhantomAnatomy {
  // Body (soft tissue): superellipse |du/bw|^p + |dv/bh|^p <= 1 plus the neck.
  double body_cx = 0, body_cy = 0, body_w = 0, body_h = 0, body_power = 2;
  double neck_w = 0;
  double tissue = 0;      // soft-tissue brightness
  double background = 0;  // air outside the body
  PhantomLung lung[2];    // [0] image-left (patient's right), [1] image-right
  // Heart shadow (ellipse), to the image right of the midline.
  double heart_cx = 0, heart_cy = 0, heart_rx = 0, heart_ry = 0, heart_density = 0;
  // Spine: vertical band at body_cx.
  double spine_w = 0, spine_density = 0, vertebra_period = 0;
  // Posterior ribs: v = rib_top + k * rib_spacing - rib_rise * t + rib_curve * t^2, t = |u|-0.08.
  int n_ribs = 0;
  double rib_top = 0, rib_spacing = 0, rib_rise = 0, rib_curve = 0, rib_width = 0, rib_density = 0;
  // Clavicles: segments from (+-clav_inner_u, clav_inner_v) to (+-clav_outer_u, clav_outer_v).
  double clav_inner_u = 0, clav_inner_v = 0, clav_outer_u = 0, clav_outer_v = 0, clav_width = 0,
         clav_density = 0;
  // Pose of this image: pixel (u, v) shows anatomy point ((u - pose_du) / pose_scale,
  // (v - pose_dv) / pose_scale); findings are in anatomy coordinates and follow the pose.
  double pose_scale = 1, pose_du = 0, pose_dv = 0;
  // Exposure of this image: out = gain * in + offset.
  double gain = 1, offset = 0;
};

// A new patient's anatomy.
PhantomAnatomy sample_anatomy(Rng& rng);

// The same patient on another image: small shifts of pose and scale, inspiration (lung
// height), exposure.
PhantomAnatomy vary_anatomy(const PhantomAnatomy& base, Rng& rng);

// A patient's findings for its class (empty for normal). Covid: covid_patches_min..max
// patches, at least one in each lung, in the lateral lower zones. Pneumonia: one
// consolidation filling much of a lobe of one lung.
std::vector<PhantomOpacity> sample_findings(PhantomClass c, const PhantomAnatomy& anatomy,
                                            const PhantomOptions& options, Rng& rng);

// The findings on another image of the patient: peaks vary a little (they follow the pose
// through the anatomy coordinates).
std::vector<PhantomOpacity> vary_findings(const std::vector<PhantomOpacity>& findings, Rng& rng);

// Renders one image, CV_32F, size x size, values in [0, 1]. Noise is drawn from noise_seed.
cv::Mat render_phantom(const PhantomAnatomy& anatomy, const std::vector<PhantomOpacity>& findings,
                       int size, double noise, double grain, std::uint64_t noise_seed);

// The visible lung fields of an anatomy (lungs minus the heart shadow), CV_8U 0/255.
cv::Mat phantom_lung_mask(const PhantomAnatomy& anatomy, int size);

// One phantom image with everything known about it.
struct PhantomImage {
  PhantomClass label = PhantomClass::kNormal;
  std::string patient_id;  // unique across classes
  int view_index = 0;      // 0-based image index within the patient
  PhantomAnatomy anatomy;  // this image's anatomy (after vary_anatomy)
  std::vector<PhantomOpacity> findings;
  cv::Mat image;      // CV_32F in [0, 1]
  cv::Mat lung_mask;  // CV_8U 0/255
};

// Patient ids: "PH<class digit><5-digit index>", e.g. PH000017 (normal), PH100003
// (pneumonia), PH200000 (covid); unique across classes by construction.
std::string phantom_patient_id(PhantomClass c, int patient_index);

// The image write_phantom_dataset writes for (class, patient, view) under `seed`.
PhantomImage make_phantom_image(PhantomClass c, int patient_index, int view_index,
                                const PhantomOptions& options, std::uint64_t seed);

// Writes options.n_* images as single-channel PNGs (options.bit_depth) under
// out_dir/<label>/<patient_id>_<view>.png and out_dir/labels.csv with the columns
// path,label,subtype,patient_id,view (path relative to out_dir; view is "PA"). Byte-identical
// for the same options and seed, whatever `threads` (images are generated in parallel, each
// from its own seeds). labels.csv is written last and atomically, so its presence means the
// set is complete; files of an earlier, larger set in out_dir are left alone (labels.csv
// lists exactly this set). Throws UsageError on inconsistent options.
void write_phantom_dataset(const PhantomOptions& options, std::uint64_t seed,
                           const std::filesystem::path& out_dir, int threads = 1);

// Checks options (ranges, min <= max, bit depth 8 or 16); throws UsageError naming the key.
void validate_phantom_options(const PhantomOptions& options);

// Lung-field opacity: mean of the lung pixels minus their 20th percentile (linear
// interpolation between order statistics, as numpy.percentile). image01: one channel, CV_32F
// or CV_64F or CV_8U (scaled by 1/255) or CV_16U (by 1/65535); lung_mask: CV_8U, nonzero =
// lung, same size. Throws when the mask is empty or sizes differ.
double lung_opacity_score(const cv::Mat& image01, const cv::Mat& lung_mask);

// Opacity-score statistics per class over `images_per_class` images of each class (the
// images write_phantom_dataset would write for `seed`), scored inside estimate_lung_mask when
// `estimated_masks` (as a translated image is scored) or inside the true lung masks. A
// translation Normal -> COVID moves the normal mean towards covid_mean; its progress is
// (score - normal_mean) / (covid_mean - normal_mean).
struct PhantomScoreSummary {
  double normal_mean = 0, normal_sd = 0;
  double pneumonia_mean = 0, pneumonia_sd = 0;
  double covid_mean = 0, covid_sd = 0;
};
PhantomScoreSummary phantom_score_summary(const PhantomOptions& options, std::uint64_t seed,
                                          int images_per_class, bool estimated_masks);

// Lung fields of an image whose anatomy is unknown (e.g. a GAN translation): the dark regions
// inside the body (Otsu thresholds after smoothing), the two largest components, holes filled.
// CV_8U 0/255. Throws when no lung-like region is found.
cv::Mat estimate_lung_mask(const cv::Mat& image01);

}  // namespace cxrsynth::data
