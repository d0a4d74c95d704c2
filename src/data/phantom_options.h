// Options of the built-in phantom chest X-ray generator (the `data.phantom` config section).
// Torch-free; the generator itself lives in data/phantom.h.
//
// Counts are IMAGE counts per class. Patients are formed from consecutive images of a class,
// `images_per_patient` each (the last patient of a class may have fewer), so a class has
// ceil(n / images_per_patient) patients. Defaults give a paper-like skew at small scale
// (normal/covid = 33, cf. the paper's eq. 6 skews) that trains in minutes on a CPU.
#pragma once

#include "config/fields.h"

namespace cxrsynth::data {

struct PhantomOptions {
  bool enabled = false;              // generate phantom data instead of / besides real sources
  int image_size = 64;               // side of the square images, pixels
  int n_normal = 1000;               // images of class normal
  int n_pneumonia = 250;             // images of class pneumonia
  int n_covid = 30;                  // images of class covid
  int images_per_patient = 3;        // images sharing one anatomy (same patient)
  double covid_peak_min = 0.035;     // ground-glass patch peak brightness, log-uniform in
  double covid_peak_max = 0.14;      //   [min, max]: opacity-score AUC normal vs covid ~0.84
  int covid_patches_min = 2;         // ground-glass patches per covid patient, uniform in
  int covid_patches_max = 5;         //   [min, max]; at least one in each lung
  double covid_radius_min = 0.07;    // patch radius as a fraction of the image half-width
  double covid_radius_max = 0.14;    //
  double pneumonia_peak_min = 0.10;  // lobar consolidation peak brightness, uniform in
  double pneumonia_peak_max = 0.22;  //   [min, max]
  double noise = 0.025;              // std of the smooth (correlated) noise field
  double grain = 0.008;              // std of the per-pixel noise
  int bit_depth = 8;                 // stored PNG depth: 8 or 16
};

template <class V>
void visit_fields(V& v, PhantomOptions& o) {
  using config::Doc;
  v.field("enabled", o.enabled, Doc("Generate the built-in phantom chest X-ray dataset", "ours"));
  v.field("image_size", o.image_size,
          Doc("Side of the square phantom images, pixels", "ours").range(32, 512));
  v.field("n_normal", o.n_normal, Doc("Number of normal phantom IMAGES", "ours").range(0, 1000000));
  v.field("n_pneumonia", o.n_pneumonia,
          Doc("Number of pneumonia phantom IMAGES", "ours").range(0, 1000000));
  v.field("n_covid", o.n_covid, Doc("Number of covid phantom IMAGES", "ours").range(0, 1000000));
  v.field("images_per_patient", o.images_per_patient,
          Doc("Images per phantom patient (same anatomy, small pose/exposure changes, fresh "
              "noise); a class has ceil(n / images_per_patient) patients",
              "ours")
              .range(1, 100));
  v.field("covid_peak_min", o.covid_peak_min,
          Doc("Lower bound of the ground-glass patch peak brightness (log-uniform); "
              "0.035-0.14 gives a normal-vs-covid opacity-score AUC of about 0.84 (the "
              "prototype's 0.03-0.12 gave 0.85 on a simpler phantom; 0.05-0.15 made the demo "
              "too easy, 0.02-0.08 too hard)",
              "ours: PHANTOM-DEMO.md")
              .range(0.001, 1));
  v.field("covid_peak_max", o.covid_peak_max,
          Doc("Upper bound of the ground-glass patch peak brightness (log-uniform)",
              "ours: PHANTOM-DEMO.md")
              .range(0.001, 1));
  v.field("covid_patches_min", o.covid_patches_min,
          Doc("Fewest ground-glass patches per covid patient (bilateral: at least 2)",
              "ours: PHANTOM-DEMO.md")
              .range(2, 20));
  v.field("covid_patches_max", o.covid_patches_max,
          Doc("Most ground-glass patches per covid patient", "ours: PHANTOM-DEMO.md").range(2, 20));
  v.field("covid_radius_min", o.covid_radius_min,
          Doc("Smallest patch radius, fraction of the image half-width", "ours: PHANTOM-DEMO.md")
              .range(0.01, 0.5));
  v.field("covid_radius_max", o.covid_radius_max,
          Doc("Largest patch radius, fraction of the image half-width", "ours: PHANTOM-DEMO.md")
              .range(0.01, 0.5));
  v.field("pneumonia_peak_min", o.pneumonia_peak_min,
          Doc("Lower bound of the lobar consolidation peak brightness (uniform)", "ours")
              .range(0.001, 1));
  v.field("pneumonia_peak_max", o.pneumonia_peak_max,
          Doc("Upper bound of the lobar consolidation peak brightness (uniform)", "ours")
              .range(0.001, 1));
  v.field("noise", o.noise,
          Doc("Std of the smooth noise field added to every image", "ours: PHANTOM-DEMO.md")
              .range(0, 0.5));
  v.field("grain", o.grain, Doc("Std of the per-pixel noise", "ours").range(0, 0.5));
  v.field("bit_depth", o.bit_depth, Doc("Stored PNG bit depth (8 or 16)", "ours").range(8, 16));
}

}  // namespace cxrsynth::data
