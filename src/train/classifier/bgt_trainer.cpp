#include "train/classifier/bgt_trainer.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <numeric>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/seed.h"
#include "core/sha256.h"
#include "models/classifiers/weights_io.h"
#include "train/classifier/classifier_batch.h"

namespace cxrsynth::train {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kSchema = "cxrsynth.bgt/1";
constexpr const char* kRandomNote =
    "none: RANDOMLY INITIALISED DenseNet (no classifier.weights); features of a random network "
    "are a weak baseline, not the paper's ImageNet-pretrained DenseNet-121 + BGT";

models::FeatureMatrix to_matrix(const torch::Tensor& features) {
  const auto f = features.to(torch::kFloat32).contiguous();
  models::FeatureMatrix m;
  m.rows = static_cast<std::size_t>(f.size(0));
  m.cols = static_cast<std::size_t>(f.size(1));
  m.values.assign(f.data_ptr<float>(), f.data_ptr<float>() + f.numel());
  return m;
}

json model_options_json(const models::ClassifierModelOptions& m) {
  return {{"arch", m.arch},
          {"in_channels", m.in_channels},
          {"densenet_growth_rate", m.densenet_growth_rate},
          {"densenet_block_config", m.densenet_block_config},
          {"densenet_init_features", m.densenet_init_features},
          {"densenet_bn_size", m.densenet_bn_size}};
}

models::ClassifierModelOptions model_options_from_json(const json& j) {
  models::ClassifierModelOptions m;
  m.arch = j.at("arch").get<std::string>();
  m.in_channels = j.at("in_channels").get<int>();
  m.densenet_growth_rate = j.at("densenet_growth_rate").get<int>();
  m.densenet_block_config = j.at("densenet_block_config").get<std::vector<std::int64_t>>();
  m.densenet_init_features = j.at("densenet_init_features").get<int>();
  m.densenet_bn_size = j.at("densenet_bn_size").get<int>();
  return m;
}

bool same_network(const models::ClassifierModelOptions& a,
                  const models::ClassifierModelOptions& b) {
  return model_options_json(a) == model_options_json(b);
}

// Where the backbone comes from, decided at training time.
struct BackboneSource {
  std::string kind;         // backbone-weights | random-init | trained
  fs::path file;            // absolute
  std::string stored_path;  // as written in bgt.json (relative to its folder when inside)
  std::string sha256;
  std::string description;  // human text for outputs
};

struct Rates {
  double accuracy = 0, sensitivity = 0, specificity = 0;
  std::size_t n = 0;
};

Rates rates_at_half(const std::vector<ClassifierSample>& samples, const std::vector<double>& p) {
  std::int64_t tp = 0, tn = 0, pos = 0, neg = 0, n = 0;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(p[i])) continue;
    const int pred = p[i] >= 0.5;
    ++n;
    if (samples[i].label == 1) {
      ++pos;
      tp += pred;
    } else {
      ++neg;
      tn += 1 - pred;
    }
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Rates r;
  r.n = static_cast<std::size_t>(n);
  r.accuracy = n ? static_cast<double>(tp + tn) / n : nan;
  r.sensitivity = pos ? static_cast<double>(tp) / pos : nan;
  r.specificity = neg ? static_cast<double>(tn) / neg : nan;
  return r;
}

json rates_json(const Rates& r) {
  json j;
  j["images"] = r.n;
  for (const auto& [k, v] : {std::pair<const char*, double>{"accuracy", r.accuracy},
                             {"sensitivity", r.sensitivity},
                             {"specificity", r.specificity}}) {
    if (std::isfinite(v)) j[k] = v;
  }
  return j;
}

std::string fingerprint(const ClassifierOptions& o, const BackboneSource& b, int image_size,
                        const std::vector<ClassifierSample>& train_set, std::uint64_t seed) {
  Sha256 h;
  h.update(model_options_json(o.model).dump());
  h.update(
      fmt::format("|image_size={};trees={};features={};min_samples_split={};max_depth={};"
                  "class_weights={};backbone={}:{};seed={}|",
                  image_size, o.bgt.trees, o.bgt.features, o.bgt.min_samples_split, o.bgt.max_depth,
                  o.class_weights, b.kind, b.kind == "random-init" ? "" : b.sha256, seed));
  for (const auto& s : train_set) h.update(fmt::format("{}:{};", s.id, s.label));
  return h.hex_digest();
}

fs::path resolve(const fs::path& dir, const std::string& stored) {
  const fs::path p(stored);
  return p.is_absolute() ? p : dir / p;
}

}  // namespace

models::ClassifierModelOptions bgt_backbone_options(const models::ClassifierModelOptions& model) {
  if (!models::is_bgt_arch(model.arch)) {
    throw UsageError(fmt::format("'{}' is not a bagging-trees arch (densenet121-bgt, densenet-bgt)",
                                 model.arch));
  }
  auto b = model;
  b.arch = model.arch.substr(0, model.arch.size() - 4);  // drop "-bgt"
  return b;
}

torch::Tensor extract_pooled_features(models::ClassifierNetImpl& net,
                                      const std::vector<ClassifierSample>& samples, int image_size,
                                      int batch_size, const std::string& label) {
  torch::NoGradGuard no_grad;
  net.eval();
  std::vector<torch::Tensor> parts;
  Progress progress(label, static_cast<std::int64_t>(samples.size()),
                    ProgressOptions{10.0, "image"});
  for (std::size_t start = 0; start < samples.size();
       start += static_cast<std::size_t>(batch_size)) {
    const std::size_t end = std::min(samples.size(), start + static_cast<std::size_t>(batch_size));
    std::vector<std::size_t> idx(end - start);
    std::iota(idx.begin(), idx.end(), start);
    const auto x = load_classifier_batch(samples, idx, image_size, net.options().in_channels);
    parts.push_back(net.pooled_features(x).to(torch::kFloat32));
    progress.update(static_cast<std::int64_t>(end));
  }
  progress.finish();
  if (parts.empty()) {
    return torch::zeros({0, models::pooled_feature_count(net.options())}, torch::kFloat32);
  }
  return torch::cat(parts).contiguous();
}

ClassifierTrainResult train_bgt(const ClassifierOptions& o,
                                const std::vector<ClassifierSample>& train_set,
                                const std::vector<ClassifierSample>& validation,
                                const fs::path& out_dir, std::uint64_t run_seed,
                                const ClassifierTrainJob& job) {
  require_both_classes(train_set, job.name + " training set");
  const auto bopts = bgt_backbone_options(o.model);
  const auto descriptor = out_dir / kBgtDescriptorFile;
  ClassifierTrainResult result;
  result.model_file = descriptor;

  // The backbone.
  BackboneSource src;
  models::ClassifierNet net;
  torch::manual_seed(derive_seed(run_seed, job.name + "/init"));
  if (o.bgt.features == "trained") {
    src.kind = "trained";
    src.stored_path = (fs::path("..") / bopts.arch / "model.pt").string();
    src.file = fs::weakly_canonical(out_dir / src.stored_path);
    if (!fs::exists(src.file)) {
      throw Error(fmt::format(
          "{}: classifier.bgt.features = trained needs the {} classifier of the same task and "
          "configuration, {}, which does not exist; train it first (experiment: list {} "
          "before {} in experiment.models), or use classifier.bgt.features = backbone",
          job.name, bopts.arch, src.file.string(), bopts.arch, o.model.arch));
    }
    auto loaded = models::load_classifier_file(src.file);
    if (!same_network(loaded.net->options(), bopts)) {
      throw UsageError(fmt::format(
          "{}: {} holds a {} with other options ({}) than this run's backbone ({})", job.name,
          src.file.string(), loaded.net->options().arch,
          model_options_json(loaded.net->options()).dump(), model_options_json(bopts).dump()));
    }
    net = loaded.net;
    src.sha256 = sha256_file(src.file);
    src.description = fmt::format("the {} trained in this run: {} (sha256 {})", bopts.arch,
                                  src.file.string(), src.sha256);
  } else {
    net = models::make_classifier(bopts);
    if (!o.weights.empty()) {
      src.kind = "backbone-weights";
      src.file = fs::absolute(o.weights);
      src.stored_path = src.file.string();
      models::load_torchvision_weights(*net, src.file);
      src.sha256 = sha256_file(src.file);
      src.description =
          fmt::format("frozen {} from {} (sha256 {})", bopts.arch, src.file.string(), src.sha256);
    } else {
      src.kind = "random-init";
      src.file = out_dir / kBgtBackboneFile;
      src.stored_path = kBgtBackboneFile;
      src.description = kRandomNote;
    }
  }

  const int image_size = static_cast<int>(
      load_classifier_image(train_set.front().path, o.image_size, bopts.in_channels).size(2));
  const auto fp = fingerprint(o, src, image_size, train_set, run_seed);
  if (fs::exists(descriptor)) {
    json old;
    try {
      old = json::parse(read_file(descriptor));
    } catch (const json::exception& e) {
      throw Error(fmt::format("{}: not readable JSON ({}); delete {} to start over",
                              descriptor.string(), e.what(), out_dir.string()));
    }
    if (old.value("fingerprint", "") != fp) {
      throw UsageError(fmt::format(
          "{} was written with other classifier options, data, backbone or seed; delete {} to "
          "start over, or use another run directory",
          descriptor.string(), out_dir.string()));
    }
    load_bgt_model(descriptor);  // both checksums verified
    log_info("{}: already fitted; {} kept", job.name, descriptor.string());
    result.already_done = true;
    return result;
  }

  if (src.kind == "random-init") {
    log_warn(
        "{}: no classifier.weights: the DenseNet feature extractor is RANDOMLY "
        "initialised. The paper used ImageNet-pretrained DenseNet-121 features "
        "(scripts/export_torchvision.py --weights ...); results of this run are a weak "
        "random-features baseline and are marked as such",
        job.name);
  }
  if (o.flip) {
    log_warn(
        "{}: classifier.flip does not apply to bagging trees (features of the unflipped "
        "images are used)",
        job.name);
  }
  const auto tc = count_classes(train_set);
  log_info("{}: {} features of {} training images ({} negatives + {} positives, skew {:.2f})",
           job.name, bopts.arch, train_set.size(), tc.negatives, tc.positives, tc.skew());
  const auto features = extract_pooled_features(*net, train_set, image_size, o.eval_batch_size,
                                                job.name + " features");
  const auto x = to_matrix(features);
  std::vector<int> labels;
  labels.reserve(train_set.size());
  for (const auto& s : train_set) labels.push_back(s.label);

  models::BaggedTreesParams params;
  params.trees = o.bgt.trees;
  params.min_samples_split = o.bgt.min_samples_split;
  params.max_depth = o.bgt.max_depth;
  if (o.class_weights == "balanced") {
    const double n = static_cast<double>(train_set.size());
    params.class_weights = {n / (2.0 * tc.negatives), n / (2.0 * tc.positives)};
  }
  const auto tree_seed = derive_seed(run_seed, job.name + "/trees");
  log_info("{}: growing {} bagged trees on {} x {} features", job.name, params.trees, x.rows,
           x.cols);
  Progress progress(job.name + " trees", params.trees, ProgressOptions{10.0, "tree"});
  const auto trees = models::BaggedTrees::fit(
      x, labels, params, tree_seed, torch::get_num_threads(), job.name,
      [&](std::size_t done) { progress.update(static_cast<std::int64_t>(done)); });
  progress.finish();

  // Files: backbone and trees first, the descriptor last (its presence = finished).
  if (src.kind == "random-init") {
    models::save_classifier_file(*net, src.file,
                                 {{"name", job.name + "/backbone"}, {"note", kRandomNote}});
    src.sha256 = sha256_file(src.file);
  }
  const auto trees_sha = trees.save(out_dir / kBgtTreesFile);

  const auto oob = rates_at_half(train_set, trees.oob_proba());
  json j;
  j["schema"] = kSchema;
  j["name"] = job.name;
  j["arch"] = o.model.arch;
  j["fingerprint"] = fp;
  j["backbone"] = {
      {"model", model_options_json(bopts)},  {"features", o.bgt.features}, {"kind", src.kind},
      {"random", src.kind == "random-init"}, {"file", src.stored_path},    {"sha256", src.sha256},
      {"weights", src.description}};
  j["feature_count"] = x.cols;
  j["image_size"] = image_size;
  j["ensemble"] = {
      {"file", kBgtTreesFile},
      {"sha256", trees_sha},
      {"method",
       "bagging: each tree grown on its own bootstrap sample (n draws with replacement), all "
       "features considered at every split; P(COVID-19) = fraction of trees voting COVID-19"},
      {"implementation", "OpenCV cv::ml::DTrees (Gini, unpruned: CVFolds 0, no surrogates)"},
      {"trees", trees.tree_count()},
      {"constant_trees", trees.constant_tree_count()},
      {"min_samples_split", params.min_samples_split},
      {"max_depth", params.max_depth},
      {"class_weights", o.class_weights},
      {"seed", tree_seed}};
  j["train"] = {{"negatives", tc.negatives}, {"positives", tc.positives}};
  if (std::isfinite(tc.skew())) j["train"]["skew"] = tc.skew();
  j["train"]["out_of_bag"] = rates_json(oob);
  for (const auto& [k, v] : job.metadata) j["metadata"][k] = v;
  j["validation"] = {{"split", o.validation_split}, {"is_test_set", o.validation_split == "test"}};
  if (!validation.empty()) {
    const auto vf = extract_pooled_features(*net, validation, image_size, o.eval_batch_size,
                                            job.name + " validation features");
    const auto vr = rates_at_half(validation, trees.predict_proba(to_matrix(vf)));
    j["validation"]["at_0.5"] = rates_json(vr);
    log_info("{}: validation ({} split) accuracy {:.3f}, sensitivity {:.3f}, specificity {:.3f}",
             job.name, o.validation_split, vr.accuracy, vr.sensitivity, vr.specificity);
  }
  write_file_atomic(descriptor, j.dump(2) + "\n");
  log_info("{}: out-of-bag accuracy {:.3f}; wrote {}", job.name, oob.accuracy, descriptor.string());
  return result;
}

bool is_bgt_model_path(const fs::path& path) {
  if (fs::is_directory(path)) return fs::exists(path / kBgtDescriptorFile);
  return path.filename() == kBgtDescriptorFile;
}

BgtModel load_bgt_model(const fs::path& path) {
  const auto descriptor = fs::is_directory(path) ? path / kBgtDescriptorFile : path;
  if (!fs::exists(descriptor)) {
    throw Error(
        fmt::format("{} not found: train the model with `cxrsynth train-classifier "
                    "--arch densenet121-bgt ...` first",
                    descriptor.string()));
  }
  const auto dir = descriptor.parent_path();
  json j;
  try {
    j = json::parse(read_file(descriptor));
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: not readable JSON ({})", descriptor.string(), e.what()));
  }
  if (j.value("schema", "") != kSchema) {
    throw Error(fmt::format("{}: schema '{}', expected '{}'", descriptor.string(),
                            j.value("schema", ""), kSchema));
  }
  BgtModel m;
  m.descriptor = descriptor;
  try {
    const auto& b = j.at("backbone");
    const auto opts = model_options_from_json(b.at("model"));
    const auto file = resolve(dir, b.at("file").get<std::string>());
    if (!fs::exists(file)) {
      throw Error(
          fmt::format("{}: backbone weights {} not found (the descriptor names them: "
                      "{})",
                      descriptor.string(), file.string(), b.at("weights").get<std::string>()));
    }
    const auto sha = sha256_file(file);
    if (sha != b.at("sha256").get<std::string>()) {
      throw Error(fmt::format(
          "{}: backbone weights {} changed since the trees were fitted (sha256 {}, expected "
          "{}); the trees only fit the features of the original backbone: re-run "
          "train-classifier",
          descriptor.string(), file.string(), sha, b.at("sha256").get<std::string>()));
    }
    m.backbone = models::make_classifier(opts);
    models::load_torchvision_weights(*m.backbone, file);
    m.backbone->eval();
    m.random_backbone = b.at("random").get<bool>();
    const auto& e = j.at("ensemble");
    m.trees = models::BaggedTrees::load(resolve(dir, e.at("file").get<std::string>()),
                                        e.at("sha256").get<std::string>());
    if (m.trees.feature_count() != j.at("feature_count").get<std::size_t>() ||
        static_cast<std::int64_t>(m.trees.feature_count()) != models::pooled_feature_count(opts)) {
      throw Error(fmt::format("{}: the ensemble expects {} features, the backbone gives {}",
                              descriptor.string(), m.trees.feature_count(),
                              models::pooled_feature_count(opts)));
    }
    m.image_size = j.at("image_size").get<int>();
    if (j.contains("metadata")) {
      for (const auto& [k, v] : j.at("metadata").items()) m.metadata[k] = v.get<std::string>();
    }
    m.metadata["validation_split"] = j.at("validation").at("split").get<std::string>();
    m.metadata["image_size"] = std::to_string(m.image_size);
    m.metadata["backbone"] = opts.arch;
    m.metadata["backbone_weights"] = b.at("weights").get<std::string>();
    m.metadata["random_backbone"] = m.random_backbone ? "true" : "false";
    m.metadata["feature_source"] = b.at("features").get<std::string>();
    m.metadata["trees"] = std::to_string(m.trees.tree_count());
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: malformed descriptor ({})", descriptor.string(), e.what()));
  }
  if (m.random_backbone) {
    log_warn(
        "{}: the DenseNet feature extractor is randomly initialised (no ImageNet weights): "
        "a weak baseline, not the paper's DenseNet-121 + BGT",
        descriptor.string());
  }
  return m;
}

BgtScores score_bgt(BgtModel& model, const std::vector<ClassifierSample>& samples, int batch_size) {
  BgtScores out;
  out.features = extract_pooled_features(*model.backbone, samples, model.image_size, batch_size,
                                         model.descriptor.parent_path().string() + " features");
  out.p_covid = model.trees.predict_proba(to_matrix(out.features));
  return out;
}

}  // namespace cxrsynth::train
