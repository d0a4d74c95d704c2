// Test helper: a run directory whose manifest holds phantom normal and covid images.
#pragma once

#include <map>
#include <string>

#include "core/run_dir.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/phantom.h"

namespace cxrsynth::train {

// Writes a phantom manifest under run/data: per split, `n` normal and `n` covid images
// (one image per patient), size px.
inline void write_phantom_run(const RunDir& run, const std::map<std::string, int>& per_split,
                              int size, double covid_peak_min, double covid_peak_max) {
  data::PhantomOptions po;
  po.image_size = size;
  po.covid_peak_min = covid_peak_min;
  po.covid_peak_max = covid_peak_max;
  std::vector<data::ManifestRow> rows;
  int patient = 0;
  for (const auto& [split, n] : per_split) {
    for (int i = 0; i < n; ++i, ++patient) {
      for (auto c : {data::PhantomClass::kNormal, data::PhantomClass::kCovid}) {
        const auto img = data::make_phantom_image(c, patient, 0, po, 7);
        data::ManifestRow r;
        r.id = img.patient_id + "-0";
        r.source = "phantom";
        r.patient_id = "phantom:" + img.patient_id;
        r.label = data::phantom_class_name(c);
        r.view = "PA";
        r.split = split;
        r.path = "images/" + r.id + ".png";
        r.original_path = r.path;
        r.width = r.height = size;
        r.bit_depth = 8;
        r.sha256 = std::string(64, '0');
        cv::Mat u8;
        img.image.convertTo(u8, CV_8U, 255.0);
        data::write_png_atomic(run.data_dir() / r.path, u8);
        rows.push_back(r);
      }
    }
  }
  data::write_manifest(run.manifest(), rows);
}

}  // namespace cxrsynth::train
