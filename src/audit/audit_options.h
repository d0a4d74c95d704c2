// Options of the `audit` stage (the `audit` config section; torch-free): memorization, PHI and
// FID/KID checks of a task's synthetic set (issue 10 item 4; docs/AUDIT.md).
#pragma once

#include <string>

#include "config/fields.h"

namespace cxrsynth::audit {

struct AuditOptions {
  int pixel_size = 32;               // thumbnail side of the pixel space. Source: ours
  std::string classifier;            // "<config>/<arch>"; "" = real/<first trained arch>
  double baseline_percentile = 1.0;  // threshold = this percentile of real-vs-real distances
  std::string flag_rule = "both";    // both | pixel | feature
  int bootstrap_draws = 200;         // FID/KID intervals. Source: ours
  double level = 0.95;               // Source: ours
  int small_sample = 50;             // warn below this many images per side. Source: ours
  int fid_pca_dims = 0;              // > 0: FID on this many principal components
  int batch_size = 32;               // classifier inference batch. Source: ours
  int top_pairs = 12;                // pairs listed in audit.json (flagged first, then closest)
};

template <class V>
void visit_fields(V& v, AuditOptions& o) {
  using config::Doc;
  v.field("pixel_size", o.pixel_size,
          Doc("Side of the thumbnails of the pixel space: images resized (area) to this size, "
              "each z-normalised; distance sqrt(2 (1 - Pearson r))",
              "ours")
              .range(4, 512));
  v.field("classifier", o.classifier,
          Doc("Feature space of the nearest neighbours and FID/KID: a classifier trained in the "
              "run, '<train config>/<arch>' under R/classifiers/<task>/; empty = the 'real' "
              "configuration's first architecture (in the order of classifier.model.arch's "
              "choices) that has a model.pt",
              "ours"));
  v.field("baseline_percentile", o.baseline_percentile,
          Doc("A synthetic image is flagged when its nearest COVID-19 training image is at most "
              "this percentile of the real-vs-real baseline (each COVID-19 training image's "
              "distance to its nearest training image of ANOTHER patient); 0 = closer than the "
              "closest distinct-patient real pair",
              "ours")
              .range(0, 100));
  v.field("flag_rule", o.flag_rule,
          Doc("Which spaces must fall under their thresholds to flag possible memorization: "
              "both (pixel and classifier feature space), pixel, or feature",
              "ours")
              .one_of({"both", "pixel", "feature"}));
  v.field("bootstrap_draws", o.bootstrap_draws,
          Doc("Bootstrap draws (patients resampled on each side) for the FID/KID intervals", "ours")
              .range(1, 100000));
  v.field("level", o.level, Doc("Central mass of the FID/KID intervals", "ours").range(0, 1));
  v.field("small_sample", o.small_sample,
          Doc("Warn when a side of FID/KID has fewer images than this", "ours").range(0, 1000000));
  v.field("fid_pca_dims", o.fid_pca_dims,
          Doc("When > 0, the FID is computed on this many leading principal components of the "
              "pooled features (keeps covariances full-rank when images are fewer than feature "
              "dimensions); 0 = all dimensions",
              "ours")
              .range(0, 100000));
  v.field("batch_size", o.batch_size,
          Doc("Images per classifier inference batch", "ours").range(1, 4096));
  v.field("top_pairs", o.top_pairs,
          Doc("Synthetic / nearest COVID-19-training pairs listed in audit.json and shown in the "
              "report: the flagged ones first, then the closest others",
              "ours")
              .range(0, 1000));
}

}  // namespace cxrsynth::audit
