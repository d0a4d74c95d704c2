#include "audit/audit.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <optional>

#include "audit/nearest.h"
#include "audit/phi_check.h"
#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/parallel.h"
#include "core/seed.h"
#include "data/manifest.h"
#include "data/tasks.h"
#include "eval/bootstrap.h"
#include "eval/classifier/classifier_inference.h"
#include "models/classifiers/weights_io.h"
#include "train/classifier/classifier_batch.h"
#include "train/classifier/classifier_data.h"
#include "train/classifier/classifier_trainer.h"

namespace cxrsynth::audit {
namespace {

using nlohmann::json;
using train::ClassifierSample;

constexpr const char* kMemorizationNote =
    "A CycleGAN output is expected to be close to its OWN source image (the method translates "
    "that image into the COVID-19 domain), so closeness to the source domain is not a finding. "
    "The concern is an output that is as close to a COVID-19 (target-domain) TRAINING image as "
    "real images of distinct patients never are: the generator may be reproducing a training "
    "patient. Flags are candidates for a human look, not proof.";

constexpr const char* kReferenceNote =
    "Reference: the real COVID-19 training images against the test images. The classifier was "
    "trained on those training images, so its features of them can be overfit and the reference "
    "can overstate the distance between real images of different patients; read it as a rough "
    "scale, not a floor.";

constexpr const char* kFeatureSpaceNote =
    "Pooled features of a chest-X-ray classifier trained in this run, not Inception-v3: FID and "
    "KID here are comparable between runs that use the same classifier, never with published "
    "(Inception) FIDs.";

std::string num(double v) {
  return std::isfinite(v) ? fmt::format("{:.9g}", v) : std::string();
}

json jnum(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

struct SyntheticRow {
  std::string id, source_id, source_patient_id;
  fs::path path;         // absolute
  std::string rel_path;  // relative to the run directory
};

std::vector<SyntheticRow> read_synthetic(const RunDir& run_dir, const std::string& task) {
  const auto dir = run_dir.synthetic_dir(task);
  const auto file = dir / "manifest.csv";
  if (!fs::exists(file)) {
    throw Error(fmt::format(
        "{} not found: run `cxrsynth synthesize --run-dir {} --task {}` first (an unfinished or "
        "sharded synthesis writes it when every output exists)",
        file.string(), run_dir.root().string(), task));
  }
  const auto t = read_csv(file);
  t.require_columns({"id", "source_id", "source_patient_id", "path"});
  std::vector<SyntheticRow> rows;
  for (std::size_t i = 0; i < t.size(); ++i) {
    SyntheticRow r{t.at(i, "id"), t.at(i, "source_id"), t.at(i, "source_patient_id"),
                   dir / t.at(i, "path"), ""};
    if (!fs::exists(r.path)) {
      throw Error(fmt::format("{}: image {} does not exist", t.where(i), r.path.string()));
    }
    r.rel_path = fs::relative(r.path, run_dir.root()).generic_string();
    rows.push_back(std::move(r));
  }
  if (rows.empty()) throw Error(fmt::format("{} lists no synthetic image", file.string()));
  return rows;
}

// [N, pixel_size^2] thumbnails (area resize as `prepare` does, values in [0, 1]), z-normalised.
FeatureMatrix pixel_matrix(const std::vector<fs::path>& paths, int size, int threads) {
  FeatureMatrix m;
  m.rows = static_cast<std::int64_t>(paths.size());
  m.cols = static_cast<std::int64_t>(size) * size;
  m.values.assign(static_cast<std::size_t>(m.rows * m.cols), 0.0);
  parallel_for(paths.size(), threads, [&](std::size_t i) {
    const auto img =
        train::load_classifier_image(paths[i], size, 1).to(torch::kFloat64).contiguous();
    std::copy(img.data_ptr<double>(), img.data_ptr<double>() + m.cols,
              m.values.begin() + static_cast<std::ptrdiff_t>(i) * m.cols);
  });
  return zscore_rows(std::move(m));
}

FeatureMatrix to_matrix(const torch::Tensor& t) {
  const auto c = t.to(torch::kFloat64).contiguous();
  FeatureMatrix m;
  m.rows = c.size(0);
  m.cols = c.size(1);
  m.values.assign(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  return m;
}

std::vector<fs::path> paths_of(const std::vector<ClassifierSample>& s) {
  std::vector<fs::path> out;
  for (const auto& x : s) out.push_back(x.path);
  return out;
}

std::vector<std::string> patients_of(const std::vector<ClassifierSample>& s) {
  std::vector<std::string> out;
  for (const auto& x : s) out.push_back(x.patient_id);
  return out;
}

std::vector<ClassifierSample> with_label(const std::vector<ClassifierSample>& s, int label) {
  std::vector<ClassifierSample> out;
  for (const auto& x : s)
    if (x.label == label) out.push_back(x);
  return out;
}

// The classifier whose features define the feature space: options.classifier, else the first
// architecture (classifier_arch_names order) with a model.pt under real/.
std::string choose_classifier(const AuditOptions& o, const RunDir& run_dir, const std::string& task,
                              std::vector<std::string>& warnings) {
  if (!o.classifier.empty()) {
    const auto slash = o.classifier.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == o.classifier.size()) {
      throw UsageError(
          fmt::format("audit.classifier = '{}': expected '<train config>/<arch>' "
                      "(e.g. real/densenet121)",
                      o.classifier));
    }
    const auto model = train::classifier_output_dir(run_dir, task, o.classifier.substr(0, slash),
                                                    o.classifier.substr(slash + 1)) /
                       "model.pt";
    if (!fs::exists(model)) {
      throw Error(
          fmt::format("audit.classifier = '{}': {} not found; train it first "
                      "(`cxrsynth train-classifier --task {} ...`)",
                      o.classifier, model.string(), task));
    }
    return o.classifier;
  }
  for (const auto& arch : models::classifier_arch_names()) {
    if (fs::exists(train::classifier_output_dir(run_dir, task, "real", arch) / "model.pt")) {
      return "real/" + arch;
    }
  }
  warnings.push_back(fmt::format(
      "no classifier trained on the 'real' configuration under {}: the feature-space nearest "
      "neighbours, FID and KID are skipped (train one with `cxrsynth train-classifier --task {}`, "
      "or name one with --classifier <config>/<arch>)",
      (run_dir.root() / "classifiers" / task / "real").string(), task));
  return "";
}

json summary_stats(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x); }), v.end());
  json j;
  j["n"] = v.size();
  for (const auto& [name, q] : std::vector<std::pair<std::string, double>>{{"min", 0},
                                                                           {"p1", 1},
                                                                           {"p5", 5},
                                                                           {"p25", 25},
                                                                           {"median", 50},
                                                                           {"p75", 75},
                                                                           {"max", 100}}) {
    j[name] = jnum(eval::percentile(v, q));
  }
  return j;
}

json fid_kid_json(const FidKidResult& r) {
  json j;
  j["fid"] = {{"value", jnum(r.fid.value)}, {"ci_lo", jnum(r.fid.lo)}, {"ci_hi", jnum(r.fid.hi)}};
  j["kid"] = {{"value", jnum(r.kid.value)}, {"ci_lo", jnum(r.kid.lo)}, {"ci_hi", jnum(r.kid.hi)}};
  j["n_x"] = r.n_x;
  j["n_y"] = r.n_y;
  j["patients_x"] = r.groups_x;
  j["patients_y"] = r.groups_y;
  j["feature_dims"] = r.dims;
  j["fid_dims"] = r.fid_dims;
  j["draws"] = r.draws;
  j["level"] = r.level;
  j["seed"] = std::to_string(r.seed);
  j["warnings"] = r.warnings;
  return j;
}

// One space's search: nearest target/source-domain training images, own-source distance, and
// the baseline among target training images of distinct patients.
struct SpaceResult {
  Nearest target, source_domain, baseline;
  std::vector<double> own_source;  // NaN when the source is not among the source-domain images
  double threshold = std::numeric_limits<double>::quiet_NaN();
};

SpaceResult search(const FeatureMatrix& syn, const FeatureMatrix& target,
                   const FeatureMatrix& source_domain, const std::vector<std::int64_t>& own_source,
                   const std::vector<std::string>& target_patients, double percentile) {
  SpaceResult s;
  s.target = nearest_neighbours(syn, target);
  s.source_domain = nearest_neighbours(syn, source_domain);
  s.baseline = nearest_neighbours(target, target, target_patients, target_patients);
  for (std::int64_t i = 0; i < syn.rows; ++i) {
    const auto k = own_source[static_cast<std::size_t>(i)];
    s.own_source.push_back(k >= 0 ? row_distance(syn, i, source_domain, k)
                                  : std::numeric_limits<double>::quiet_NaN());
  }
  s.threshold = eval::percentile(s.baseline.distance, percentile);
  return s;
}

bool under(double d, double threshold) {
  return std::isfinite(d) && std::isfinite(threshold) && d <= threshold;
}

}  // namespace

fs::path audit_output_dir(const RunDir& run_dir, const std::string& task) {
  return run_dir.root() / "audit" / task;
}

AuditResult run_audit(const AuditOptions& o, const std::string& task, std::uint64_t run_seed,
                      int threads, const RunDir& run_dir) {
  const auto& t = data::find_task(task);
  AuditResult res;
  res.task = task;
  res.out_dir = audit_output_dir(run_dir, task);

  const auto data_rows = data::read_manifest(run_dir.manifest());
  const auto data = train::classifier_data_from_manifest(run_dir, task);
  const auto target = with_label(data.train, 1);         // COVID-19 training images
  const auto source_domain = with_label(data.train, 0);  // Normal / Pneumonia training images
  const auto target_test = with_label(data.test, 1);
  const auto syn = read_synthetic(run_dir, task);
  res.synthetic = static_cast<std::int64_t>(syn.size());
  res.target_train = static_cast<std::int64_t>(target.size());
  res.source_train = static_cast<std::int64_t>(source_domain.size());
  res.target_test = static_cast<std::int64_t>(target_test.size());
  if (target.size() < 2) {
    throw Error(
        fmt::format("task {}: {} COVID-19 training image(s); the memorization baseline "
                    "needs at least 2",
                    task, target.size()));
  }

  std::map<std::string, std::int64_t> source_index;
  for (std::size_t i = 0; i < source_domain.size(); ++i)
    source_index[source_domain[i].id] = static_cast<std::int64_t>(i);
  std::vector<std::int64_t> own_source;
  std::vector<fs::path> syn_paths;
  std::vector<std::string> syn_patients;
  std::vector<ClassifierSample> syn_samples;
  for (const auto& s : syn) {
    const auto it = source_index.find(s.source_id);
    own_source.push_back(it == source_index.end() ? -1 : it->second);
    syn_paths.push_back(s.path);
    syn_patients.push_back(s.source_patient_id);
    syn_samples.push_back({s.id, s.source_patient_id, s.path, 1, "synthetic:" + task});
  }

  // Pixel space.
  log_info(
      "audit {}: pixel space ({}x{} thumbnails) for {} synthetic, {} COVID-19 and {} {} "
      "training images",
      task, o.pixel_size, o.pixel_size, syn.size(), target.size(), source_domain.size(), t.label_a);
  const auto target_patients = patients_of(target);
  const auto px = search(pixel_matrix(syn_paths, o.pixel_size, threads),
                         pixel_matrix(paths_of(target), o.pixel_size, threads),
                         pixel_matrix(paths_of(source_domain), o.pixel_size, threads), own_source,
                         target_patients, o.baseline_percentile);

  // Feature space.
  res.classifier = choose_classifier(o, run_dir, task, res.warnings);
  std::optional<SpaceResult> fe;
  json classifier_json = nullptr;
  if (!res.classifier.empty()) {
    const auto slash = res.classifier.find('/');
    const auto model_file =
        train::classifier_output_dir(run_dir, task, res.classifier.substr(0, slash),
                                     res.classifier.substr(slash + 1)) /
        "model.pt";
    auto model = models::load_classifier_file(model_file);
    const int image_size =
        model.metadata.count("image_size") ? std::stoi(model.metadata.at("image_size")) : 0;
    log_info("audit {}: feature space of {} ({})", task, res.classifier, model_file.string());
    const auto features = [&](const std::vector<ClassifierSample>& s) {
      return to_matrix(
          eval::run_classifier(*model.net, s, image_size, o.batch_size, true).features);
    };
    const auto f_syn = features(syn_samples);
    const auto f_target = features(target);
    fe = search(f_syn, f_target, features(source_domain), own_source, target_patients,
                o.baseline_percentile);
    classifier_json = {{"name", res.classifier},
                       {"model", fs::relative(model_file, run_dir.root()).generic_string()},
                       {"feature_dims", f_syn.cols},
                       {"image_size", image_size}};
    if (target_test.size() >= 2) {
      FidKidOptions fo;
      fo.draws = o.bootstrap_draws;
      fo.level = o.level;
      fo.small_sample = o.small_sample;
      fo.pca_dims = o.fid_pca_dims;
      const auto f_test = features(target_test);
      const auto test_patients = patients_of(target_test);
      log_info("audit {}: FID/KID against {} real COVID-19 test images ({} draws)", task,
               target_test.size(), o.bootstrap_draws);
      res.fid_kid = fid_kid_with_intervals(f_syn, syn_patients, f_test, test_patients,
                                           derive_seed(run_seed, "audit/" + task + "/fid_kid"), fo);
      res.fid_kid_real =
          fid_kid_with_intervals(f_target, target_patients, f_test, test_patients,
                                 derive_seed(run_seed, "audit/" + task + "/fid_kid_real"), fo);
      res.has_fid_kid = true;
      for (const auto& w : res.fid_kid.warnings) res.warnings.push_back("FID/KID: " + w);
    } else {
      res.warnings.push_back(
          fmt::format("task {}: {} real COVID-19 test image(s): FID and KID need at least 2", task,
                      target_test.size()));
    }
  }

  // Flags and nearest.csv.
  res.pixel_threshold = px.threshold;
  res.feature_threshold = fe ? fe->threshold : std::numeric_limits<double>::quiet_NaN();
  std::vector<std::string> cols = {"synthetic_id",
                                   "source_id",
                                   "source_patient_id",
                                   "pixel_target_id",
                                   "pixel_target_distance",
                                   "pixel_source_domain_id",
                                   "pixel_source_domain_distance",
                                   "pixel_own_source_distance",
                                   "pixel_nearest_is_own_source",
                                   "feature_target_id",
                                   "feature_target_distance",
                                   "feature_source_domain_id",
                                   "feature_source_domain_distance",
                                   "feature_own_source_distance",
                                   "feature_nearest_is_own_source",
                                   "pixel_flag",
                                   "feature_flag",
                                   "possible_memorization"};
  std::string csv = csv_line(cols);
  std::vector<bool> flagged(syn.size(), false);
  std::int64_t own_px = 0;
  const auto id_of = [](const std::vector<ClassifierSample>& s, std::int64_t k) {
    return k >= 0 ? s[static_cast<std::size_t>(k)].id : std::string();
  };
  for (std::size_t i = 0; i < syn.size(); ++i) {
    const bool pf = under(px.target.distance[i], px.threshold);
    const bool ff = fe && under(fe->target.distance[i], fe->threshold);
    const bool px_own =
        px.source_domain.index[i] >= 0 && px.source_domain.index[i] == own_source[i];
    const bool fe_own =
        fe && fe->source_domain.index[i] >= 0 && fe->source_domain.index[i] == own_source[i];
    own_px += px_own ? 1 : 0;
    // Without a feature space, the pixel flag decides whatever the rule.
    const bool flag = !fe                      ? pf
                      : o.flag_rule == "both"  ? (pf && ff)
                      : o.flag_rule == "pixel" ? pf
                                               : ff;
    flagged[i] = flag;
    res.pixel_flagged += pf ? 1 : 0;
    res.feature_flagged += ff ? 1 : 0;
    res.flagged += flag ? 1 : 0;
    std::vector<std::string> row = {syn[i].id,
                                    syn[i].source_id,
                                    syn[i].source_patient_id,
                                    id_of(target, px.target.index[i]),
                                    num(px.target.distance[i]),
                                    id_of(source_domain, px.source_domain.index[i]),
                                    num(px.source_domain.distance[i]),
                                    num(px.own_source[i]),
                                    px_own ? "1" : "0"};
    if (fe) {
      for (const auto& v :
           {id_of(target, fe->target.index[i]), num(fe->target.distance[i]),
            id_of(source_domain, fe->source_domain.index[i]), num(fe->source_domain.distance[i]),
            num(fe->own_source[i]), std::string(fe_own ? "1" : "0")})
        row.push_back(v);
    } else {
      row.insert(row.end(), 6, "");
    }
    row.push_back(pf ? "1" : "0");
    row.push_back(fe ? (ff ? "1" : "0") : "");
    row.push_back(flag ? "1" : "0");
    csv += csv_line(row);
  }
  res.own_source_fraction_pixel = static_cast<double>(own_px) / static_cast<double>(syn.size());
  write_file_atomic(res.out_dir / "nearest.csv", csv);

  std::string base = csv_line({"id", "patient_id", "pixel_nearest_id", "pixel_distance",
                               "feature_nearest_id", "feature_distance"});
  for (std::size_t i = 0; i < target.size(); ++i) {
    base += csv_line({target[i].id, target[i].patient_id, id_of(target, px.baseline.index[i]),
                      num(px.baseline.distance[i]), fe ? id_of(target, fe->baseline.index[i]) : "",
                      fe ? num(fe->baseline.distance[i]) : ""});
  }
  write_file_atomic(res.out_dir / "baseline.csv", base);

  // PHI.
  const auto phi = check_phi(run_dir.synthetic_dir(task), data_rows);
  write_phi_csv(res.out_dir / "phi.csv", phi);
  res.phi_passed = phi.passed();
  res.phi_failures = phi.failures;
  if (!phi.passed()) {
    res.warnings.push_back(fmt::format("PHI check FAILED on {} item(s): see {}", phi.failures,
                                       (res.out_dir / "phi.csv").string()));
  }

  // Pairs for a human look: the flagged ones first, then the closest others (pixel space).
  std::vector<std::size_t> order(syn.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (flagged[a] != flagged[b]) return static_cast<bool>(flagged[a]);
    return px.target.distance[a] < px.target.distance[b];
  });
  json pairs = json::array();
  for (std::size_t k = 0; k < order.size() && static_cast<int>(k) < o.top_pairs; ++k) {
    const auto i = order[k];
    const auto ti = static_cast<std::size_t>(px.target.index[i]);
    pairs.push_back(
        {{"synthetic_id", syn[i].id},
         {"synthetic_path", syn[i].rel_path},
         {"target_id", target[ti].id},
         {"target_path", fs::relative(target[ti].path, run_dir.root()).generic_string()},
         {"pixel_distance", jnum(px.target.distance[i])},
         {"feature_distance", fe ? jnum(fe->target.distance[i]) : json(nullptr)},
         {"possible_memorization", static_cast<bool>(flagged[i])}});
  }

  json j;
  j["schema"] = "cxrsynth.audit/1";
  j["task"] = task;
  j["counts"] = {{"synthetic", res.synthetic},
                 {"target_train", res.target_train},
                 {"source_domain_train", res.source_train},
                 {"target_test", res.target_test}};
  j["classifier"] = classifier_json;
  auto& m = j["memorization"];
  m["note"] = kMemorizationNote;
  m["baseline_percentile"] = o.baseline_percentile;
  m["flag_rule"] = fe ? o.flag_rule : "pixel";
  m["flagged"] = res.flagged;
  m["pixel"] = {{"thumbnail_size", o.pixel_size},
                {"distance", "sqrt(2 (1 - Pearson r)) of z-normalised thumbnails"},
                {"threshold", jnum(px.threshold)},
                {"flagged", res.pixel_flagged},
                {"nearest_is_own_source_fraction", res.own_source_fraction_pixel},
                {"baseline_real_vs_real", summary_stats(px.baseline.distance)},
                {"synthetic_to_target", summary_stats(px.target.distance)},
                {"synthetic_to_source_domain", summary_stats(px.source_domain.distance)},
                {"synthetic_to_own_source", summary_stats(px.own_source)}};
  if (fe) {
    std::int64_t own_fe = 0;
    for (std::size_t i = 0; i < syn.size(); ++i)
      own_fe += fe->source_domain.index[i] >= 0 && fe->source_domain.index[i] == own_source[i];
    m["feature"] = {{"distance", "Euclidean distance of pooled classifier features"},
                    {"threshold", jnum(fe->threshold)},
                    {"flagged", res.feature_flagged},
                    {"nearest_is_own_source_fraction",
                     static_cast<double>(own_fe) / static_cast<double>(syn.size())},
                    {"baseline_real_vs_real", summary_stats(fe->baseline.distance)},
                    {"synthetic_to_target", summary_stats(fe->target.distance)},
                    {"synthetic_to_source_domain", summary_stats(fe->source_domain.distance)},
                    {"synthetic_to_own_source", summary_stats(fe->own_source)}};
  } else {
    m["feature"] = nullptr;
  }
  m["closest_pairs"] = pairs;
  j["phi"] = {{"passed", phi.passed()},
              {"files_checked", phi.files_checked},
              {"failures", phi.failures},
              {"notes", phi.notes}};
  if (res.has_fid_kid) {
    j["fid_kid"] = {{"feature_space", kFeatureSpaceNote},
                    {"reference_note", kReferenceNote},
                    {"synthetic_vs_real_test", fid_kid_json(res.fid_kid)},
                    {"real_train_vs_real_test", fid_kid_json(res.fid_kid_real)}};
  } else {
    j["fid_kid"] = nullptr;
  }
  j["warnings"] = res.warnings;
  write_file_atomic(res.out_dir / "audit.json", j.dump(2) + "\n");
  for (const auto& w : res.warnings) log_warn("audit {}: {}", task, w);
  return res;
}

std::string format_audit_summary(const AuditResult& r) {
  std::string s = fmt::format("Audit of the {} synthetic set ({} images) -> {}\n", r.task,
                              r.synthetic, r.out_dir.string());
  s += fmt::format(
      "  memorization: {} of {} flagged as possible copies of a COVID-19 training image "
      "(pixel space {} flagged at distance <= {:.4g}; feature space {}); nearest {} training "
      "image is the own source for {:.0f}% (expected for a CycleGAN)\n",
      r.flagged, r.synthetic, r.pixel_flagged, r.pixel_threshold,
      r.classifier.empty()
          ? std::string("not available")
          : fmt::format("{} flagged at <= {:.4g}", r.feature_flagged, r.feature_threshold),
      "source-domain", 100 * r.own_source_fraction_pixel);
  s += fmt::format("  PHI: {}\n",
                   r.phi_passed ? "pass (no metadata chunks, no identifiers in "
                                  "names)"
                                : fmt::format("FAIL ({} item(s), see phi.csv)", r.phi_failures));
  if (r.has_fid_kid) {
    const auto line = [](const char* what, const FidKidResult& f) {
      return fmt::format(
          "  {}: FID {:.4g} [{:.4g}, {:.4g}], KID {:.4g} [{:.4g}, {:.4g}] ({:.0f}% intervals, "
          "{} vs {} images)\n",
          what, f.fid.value, f.fid.lo, f.fid.hi, f.kid.value, f.kid.lo, f.kid.hi, 100 * f.level,
          f.n_x, f.n_y);
    };
    s += fmt::format(
        "  feature space: {} pooled features (not Inception; not comparable to "
        "published FIDs)\n",
        r.classifier);
    s += line("synthetic vs real COVID-19 test", r.fid_kid);
    s += line("real COVID-19 train vs test (reference; the classifier saw the train images)",
              r.fid_kid_real);
  } else {
    s += "  FID/KID: not computed (see warnings)\n";
  }
  for (const auto& w : r.warnings) s += "  warning: " + w + "\n";
  return s;
}

}  // namespace cxrsynth::audit
