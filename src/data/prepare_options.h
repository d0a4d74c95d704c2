// Options of the `prepare` stage (data sources, preprocessing, splits, undersampling).
// Owned by the data module; defaults name their source.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/fields.h"
#include "data/phantom_options.h"

namespace cxrsynth::data {

// COVID-19 image data collection (Cohen et al.): root/metadata.csv + root/<folder>/<filename>.
struct CohenOptions {
  bool enabled = false;
  std::string root;
  std::string view = "all";  // all (the authors) | frontal (PA, AP, AP Supine, AP semi erect)
  std::vector<std::string> covid_findings = {"COVID-19"};  // exact `finding` values = covid
  std::vector<std::string> labels = {"covid"};  // mapped labels kept (the authors: covid only)
};

template <class V>
void visit_fields(V& v, CohenOptions& o) {
  using config::Doc;
  v.field("enabled", o.enabled, Doc("Read the COVID-19 image data collection", "paper sec. 2"));
  v.field("root", o.root, Doc("Folder holding metadata.csv and images/", "ours"));
  v.field("view", o.view,
          Doc("View filter: all (the authors kept 20 lateral views) or frontal (PA, AP, AP "
              "Supine, AP semi erect)",
              "authors' code: all")
              .one_of({"all", "frontal"}));
  v.field("covid_findings", o.covid_findings,
          Doc("`finding` values labelled covid, matched exactly; to include \"COVID-19, ARDS\" "
              "(it holds a comma, so use JSON): --set 'data.cohen.covid_findings=[\"COVID-19\", "
              "\"COVID-19, ARDS\"]'",
              "authors' code: COVID-19 exactly"));
  v.field("labels", o.labels,
          Doc("Labels kept from this source (pneumonia: bacterial, viral non-COVID, fungal, "
              "unspecified findings; normal: No Finding)",
              "authors' code: covid only")
              .one_of({"normal", "pneumonia", "covid"}));
}

// RSNA Pneumonia Detection Challenge (Kaggle stage 2 layout).
struct RsnaOptions {
  bool enabled = false;
  std::string root;
  std::string labels_csv = "stage_2_train_labels.csv";
  std::string class_info_csv = "stage_2_detailed_class_info.csv";
  std::string images_dir = "stage_2_train_images";
  std::string normal_definition = "normal-class";  // normal-class | target0 (the authors)
  std::string view = "all";                        // all | PA | AP (DICOM ViewPosition)
  std::vector<std::string> labels = {"normal", "pneumonia"};
};

template <class V>
void visit_fields(V& v, RsnaOptions& o) {
  using config::Doc;
  v.field("enabled", o.enabled, Doc("Read the RSNA Pneumonia Detection Challenge", "paper sec. 2"));
  v.field("root", o.root, Doc("Folder holding the CSVs and the images folder", "ours"));
  v.field("labels_csv", o.labels_csv,
          Doc("Box labels (patientId,x,y,width,height,Target), relative to root", "Kaggle layout"));
  v.field("class_info_csv", o.class_info_csv,
          Doc("Detailed class info (patientId,class), relative to root", "Kaggle layout"));
  v.field("images_dir", o.images_dir,
          Doc("Images folder (<patientId>.dcm, or .png/.jpg), relative to root", "Kaggle layout"));
  v.field("normal_definition", o.normal_definition,
          Doc("normal-class: only class 'Normal' (COVIDx); target0: every Target 0 patient, "
              "including 'No Lung Opacity / Not Normal' (the authors)",
              "ours; authors' code: target0")
              .one_of({"normal-class", "target0"}));
  v.field("view", o.view,
          Doc("Keep only this DICOM ViewPosition (all = no filter; images without the header, "
              "e.g. PNG, are removed by the filter)",
              "ours")
              .one_of({"all", "PA", "AP"}));
  v.field("labels", o.labels,
          Doc("Labels kept from this source", "paper sec. 2").one_of({"normal", "pneumonia"}));
}

// Images in <root>/<label>/... or listed in a labels CSV.
struct FolderOptions {
  bool enabled = false;
  std::string root;
  std::string labels_csv;     // columns path,label[,patient_id,subtype,view]; path relative to root
  std::string patient_regex;  // on the file name; first capture group (else the match) = patient
  std::string name = "folder";  // source name in the manifest and the ids
};

template <class V>
void visit_fields(V& v, FolderOptions& o) {
  using config::Doc;
  v.field("enabled", o.enabled, Doc("Read a folder of labelled images", "ours"));
  v.field("root", o.root,
          Doc("Folder with one sub-folder per label (normal, pneumonia, covid) or a labels CSV",
              "ours"));
  v.field("labels_csv", o.labels_csv,
          Doc("Optional CSV with columns path,label and optionally patient_id,subtype,view "
              "(path relative to root); replaces the sub-folder scan",
              "ours"));
  v.field("patient_regex", o.patient_regex,
          Doc("Regex on the file name whose first group (else whole match) is the patient id; "
              "without it and without a patient_id column each image is its own patient",
              "ours"));
  v.field("name", o.name, Doc("Source name used in the manifest and image ids", "ours"));
}

struct PrepareOptions {
  int image_size = 256;           // Source: paper sec. 4 (256x256)
  std::string split = "grouped";  // grouped | paper
  double test_fraction = 0.2;     // Source: paper sec. 4 (80/20)
  double val_fraction = 0.1;      // of the training patients; Source: ours
  int gan_per_domain = 180;       // Source: paper sec. 3 (180 per domain)
  bool skip_missing = false;
  bool skip_bad = false;
  CohenOptions cohen;
  RsnaOptions rsna;
  FolderOptions folder;
  PhantomOptions phantom;
};

template <class V>
void visit_fields(V& v, PrepareOptions& o) {
  using config::Doc;
  v.field("image_size", o.image_size,
          Doc("Side of the square stored images, pixels", "paper sec. 4").range(16, 4096));
  v.field("split", o.split,
          Doc("grouped: by patient, stratified by label, seeded, no patient in two splits; "
              "paper: the authors' row-order slices per class (a patient found in two splits "
              "is moved to the split of its first row)",
              "ours; authors' code: paper")
              .one_of({"grouped", "paper"}));
  v.field("test_fraction", o.test_fraction,
          Doc("Fraction of each class's images in the test split", "paper sec. 4: 80/20")
              .range(0.0, 0.9));
  v.field("val_fraction", o.val_fraction,
          Doc("Fraction of the remaining training images held out for validation (early "
              "stopping); the authors validated on the test set",
              "ours")
              .range(0.0, 0.9));
  v.field("gan_per_domain", o.gan_per_domain,
          Doc("Images per domain in each task's undersampled GAN training subset (train split)",
              "paper sec. 3: 180")
              .min(1));
  v.field(
      "skip_missing", o.skip_missing,
      Doc("Skip rows whose image file is missing (counted and listed) instead of failing", "ours"));
  v.field("skip_bad", o.skip_bad,
          Doc("Skip undecodable images and bad CSV rows, listing them in data/rejected.csv, "
              "instead of failing",
              "ours"));
  v.section("cohen", o.cohen);
  v.section("rsna", o.rsna);
  v.section("folder", o.folder);
  v.section("phantom", o.phantom);
}

}  // namespace cxrsynth::data
