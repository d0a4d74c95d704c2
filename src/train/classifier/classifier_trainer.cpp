// Keras semantics reproduced here (the authors' callbacks, Keras 2 defaults):
// - ReduceLROnPlateau(monitor val_loss, factor, patience, min_delta 1e-4, cooldown 0): an epoch
//   improves when val_loss < best - min_delta; after `patience` epochs without improvement
//   lr = max(lr * factor, min_lr) and the count restarts.
// - EarlyStopping(monitor val_loss, patience, min_delta 0, restore_best_weights): improves when
//   val_loss - min_delta < best; stops after `patience` epochs without improvement.
// - Adadelta(lr, rho, eps): Keras' update (adadelta.h; LibTorch 1.13 has no C++ Adadelta), with
// Keras'
//   rho and eps set explicitly.
// - The last, partial batch of an epoch is used (Keras fit does).
#include "train/classifier/classifier_trainer.h"

#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <numeric>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/runtime.h"
#include "core/seed.h"
#include "core/sha256.h"
#include "data/tasks.h"
#include "dist/process_group.h"
#include "models/classifiers/weights_io.h"
#include "train/checkpoint.h"
#include "train/classifier/adadelta.h"
#include "train/classifier/bgt_trainer.h"
#include "train/classifier/classifier_batch.h"
#include "train/classifier/classifier_loss.h"

namespace cxrsynth::train {
namespace {

using models::ClassifierNet;

constexpr double kInf = std::numeric_limits<double>::infinity();
const std::vector<std::string> kHistoryColumns = {
    "epoch",           "lr",      "train_loss", "val_loss", "val_accuracy", "val_sensitivity",
    "val_specificity", "improved"};

// Flattens an Options struct to "key=value;" text for the checkpoint fingerprint.
struct FingerprintVisitor {
  std::string prefix, out;
  template <class T>
  void field(const char* name, const T& value, const config::Doc&) {
    out += prefix + name + "=" + fmt::format("{}", value) + ";";
  }
  template <class T>
  void field(const char* name, const std::vector<T>& value, const config::Doc&) {
    out += prefix + name + "=[" + fmt::format("{}", fmt::join(value, ",")) + "];";
  }
  template <class S>
  void section(const char* name, S& sub) {
    // classifier.bgt only concerns the bagging-trees models: changing it must not invalidate
    // a network's checkpoint (the experiment passes one classifier section to every model).
    if (prefix.empty() && std::string_view(name) == "bgt") return;
    FingerprintVisitor v{prefix + name + ".", ""};
    visit_fields(v, sub);
    out += v.out;
  }
};

std::string fingerprint(ClassifierOptions options, const std::vector<ClassifierSample>& train_set,
                        const std::vector<ClassifierSample>& validation, std::uint64_t seed) {
  options.eval_batch_size = 0;  // does not change training
  FingerprintVisitor v;
  visit_fields(v, options);
  Sha256 h;
  h.update(v.out);
  h.update(fmt::format("seed={};", seed));
  for (const auto* set : {&train_set, &validation}) {
    h.update("|");
    for (const auto& s : *set) h.update(fmt::format("{}:{};", s.id, s.label));
  }
  return h.hex_digest();
}

struct EpochStats {
  double loss = 0, accuracy = 0, sensitivity = 0, specificity = 0;
};

// Mean per-sample loss and rates at p >= 0.5 over `samples`, eval mode, no gradients.
EpochStats validate(models::ClassifierNetImpl& net, const std::vector<ClassifierSample>& samples,
                    const ClassifierOptions& o) {
  torch::NoGradGuard no_grad;
  net.eval();
  double loss_sum = 0;
  std::int64_t tp = 0, tn = 0, pos = 0, neg = 0;
  for (std::size_t start = 0; start < samples.size(); start += o.eval_batch_size) {
    const std::size_t end = std::min(samples.size(), start + o.eval_batch_size);
    std::vector<std::size_t> idx(end - start);
    std::iota(idx.begin(), idx.end(), start);
    std::vector<std::int64_t> labels;
    for (auto i : idx) labels.push_back(samples[i].label);
    const auto device = compute_device();
    const auto y = torch::tensor(labels, torch::kInt64).to(device);
    const auto logits = net.forward(
        load_classifier_batch(samples, idx, o.image_size, o.model.in_channels).to(device));
    loss_sum += bce_on_softmax(logits, y).sum().item<double>();
    const auto pred = (torch::softmax(logits, 1).select(1, 1) >= 0.5).to(torch::kInt64);
    tp += ((pred == 1) & (y == 1)).sum().item<std::int64_t>();
    tn += ((pred == 0) & (y == 0)).sum().item<std::int64_t>();
    pos += (y == 1).sum().item<std::int64_t>();
    neg += (y == 0).sum().item<std::int64_t>();
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EpochStats s;
  s.loss = loss_sum / static_cast<double>(samples.size());
  s.accuracy = static_cast<double>(tp + tn) / static_cast<double>(samples.size());
  s.sensitivity = pos ? static_cast<double>(tp) / pos : nan;
  s.specificity = neg ? static_cast<double>(tn) / neg : nan;
  return s;
}

// Everything that changes during training and must survive a restart.
struct TrainState {
  int epoch = 0;  // completed
  double lr = 0;
  double plateau_best = kInf;
  int plateau_wait = 0;
  double es_best = kInf;
  int es_wait = 0;
  int best_epoch = 0;
  bool finished = false;
  bool stopped_early = false;
  std::string history;  // history.csv text, header included
  std::map<std::string, torch::Tensor> best_weights;
};

torch::Tensor f64(double v) {
  return torch::tensor(v, torch::kFloat64);
}

void save_checkpoint(const fs::path& path, const std::string& fp, const TrainState& st,
                     models::ClassifierNetImpl& net, Adadelta& opt) {
  StateArchive a;
  a.put_string("kind", "cxrsynth-classifier-training/1");
  a.put_string("fingerprint", fp);
  a.put_int("epoch", st.epoch);
  a.put_tensor("lr", f64(st.lr));
  a.put_tensor("plateau_best", f64(st.plateau_best));
  a.put_int("plateau_wait", st.plateau_wait);
  a.put_tensor("es_best", f64(st.es_best));
  a.put_int("es_wait", st.es_wait);
  a.put_int("best_epoch", st.best_epoch);
  a.put_int("finished", st.finished ? 1 : 0);
  a.put_int("stopped_early", st.stopped_early ? 1 : 0);
  a.put_string("history", st.history);
  a.put_int("world_size", dist::world_size());
  for (const auto& [k, v] : models::classifier_state(net)) a.put_tensor("model/" + k, v);
  for (const auto& [k, v] : st.best_weights) a.put_tensor("best/" + k, v);
  for (std::size_t i = 0; i < opt.square_avg().size(); ++i) {
    a.put_tensor(fmt::format("opt/{}/square_avg", i), opt.square_avg()[i]);
    a.put_tensor(fmt::format("opt/{}/acc_delta", i), opt.acc_delta()[i]);
  }
  a.save(path);
}

void load_checkpoint(const StateArchive& a, TrainState& st, models::ClassifierNetImpl& net,
                     Adadelta& opt) {
  st.epoch = static_cast<int>(a.integer("epoch"));
  st.lr = a.tensor("lr").item<double>();
  st.plateau_best = a.tensor("plateau_best").item<double>();
  st.plateau_wait = static_cast<int>(a.integer("plateau_wait"));
  st.es_best = a.tensor("es_best").item<double>();
  st.es_wait = static_cast<int>(a.integer("es_wait"));
  st.best_epoch = static_cast<int>(a.integer("best_epoch"));
  st.finished = a.integer("finished") != 0;
  st.stopped_early = a.integer("stopped_early") != 0;
  st.history = a.string("history");
  torch::NoGradGuard no_grad;
  for (auto& [k, v] : models::classifier_state(net)) {
    v.copy_(a.tensor("model/" + k));
    if (a.has("best/" + k)) st.best_weights[k] = a.tensor("best/" + k);
  }
  for (std::size_t i = 0; i < opt.square_avg().size(); ++i) {
    opt.square_avg()[i].copy_(a.tensor(fmt::format("opt/{}/square_avg", i)));
    opt.acc_delta()[i].copy_(a.tensor(fmt::format("opt/{}/acc_delta", i)));
  }
}

std::map<std::string, torch::Tensor> snapshot(models::ClassifierNetImpl& net) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : models::classifier_state(net)) out[k] = v.detach().clone();
  return out;
}

std::string num(double v) {
  return std::isfinite(v) ? fmt::format("{:.6g}", v) : "nan";
}

void write_training_json(const fs::path& path, const ClassifierTrainJob& job,
                         const ClassifierOptions& o, const std::vector<ClassifierSample>& train_set,
                         const std::vector<ClassifierSample>& validation, const TrainState& st) {
  const auto tc = count_classes(train_set), vc = count_classes(validation);
  nlohmann::json j;
  j["schema"] = "cxrsynth.classifier-training/1";
  j["name"] = job.name;
  j["arch"] = o.model.arch;
  for (const auto& [k, v] : job.metadata) j["metadata"][k] = v;
  j["train"] = {{"negatives", tc.negatives}, {"positives", tc.positives}};
  if (std::isfinite(tc.skew())) j["train"]["skew"] = tc.skew();
  j["validation"] = {{"split", o.validation_split},
                     {"negatives", vc.negatives},
                     {"positives", vc.positives},
                     {"is_test_set", o.validation_split == "test"}};
  j["epochs_run"] = st.epoch;
  j["best_epoch"] = st.best_epoch;
  if (std::isfinite(st.es_best)) j["best_val_loss"] = st.es_best;
  j["stopped"] = st.stopped_early ? "early stopping" : "max_epochs";
  j["restored_best"] = o.restore_best;
  write_file_atomic(path, j.dump(2) + "\n");
}

}  // namespace

const std::vector<std::string>& train_config_names() {
  static const std::vector<std::string> names = {"real"};
  return names;
}

fs::path classifier_output_dir(const RunDir& run_dir, const std::string& task,
                               const std::string& train_config, const std::string& arch) {
  return run_dir.root() / "classifiers" / task / train_config / arch;
}

ClassifierTrainResult train_classifier(const ClassifierOptions& o,
                                       const std::vector<ClassifierSample>& train_set,
                                       const std::vector<ClassifierSample>& validation,
                                       const fs::path& out_dir, std::uint64_t run_seed,
                                       const ClassifierTrainJob& job) {
  if (models::is_bgt_arch(o.model.arch)) {
    return train_bgt(o, train_set, validation, out_dir, run_seed, job);
  }
  require_both_classes(train_set, job.name + " training set");
  CXRSYNTH_CHECK(!validation.empty(), "{}: the validation set is empty", job.name);
  const auto ckpt_path = out_dir / "checkpoint.state";
  remove_stale_temp_files(out_dir);  // a killed run's half-written checkpoint
  const auto fp = fingerprint(o, train_set, validation, run_seed);

  torch::manual_seed(derive_seed(run_seed, job.name + "/init"));
  ClassifierNet net = models::make_classifier(o.model);
  if (!o.weights.empty()) models::load_torchvision_weights(*net, o.weights);
  const auto device = compute_device();  // --device (CPU: no copies)
  net->to(device);
  const auto params = net->parameters();
  Adadelta opt(params, o.lr, o.rho, o.eps);
  TrainState st;
  st.lr = o.lr;
  st.history = csv_line(kHistoryColumns);

  ClassifierTrainResult result;
  result.model_file = out_dir / "model.pt";
  if (fs::exists(ckpt_path)) {
    const auto a = StateArchive::load(ckpt_path);
    require_same_world_size(a, ckpt_path, o.batch_size, dist::world_size());
    if (a.string("fingerprint") != fp) {
      throw UsageError(fmt::format(
          "{} was written with other classifier options, data or seed; delete {} to start "
          "over, or use another run directory",
          ckpt_path.string(), out_dir.string()));
    }
    load_checkpoint(a, st, *net, opt);
    opt.set_lr(st.lr);
    result.resumed = true;
    // Finished = the checkpoint says so and every final file is there (a kill between the
    // final writes leaves one missing: they are all written again from the checkpoint).
    if (st.finished && fs::exists(result.model_file) && fs::exists(out_dir / "training.json") &&
        fs::exists(out_dir / "history.csv")) {
      log_info("{}: already trained ({} epochs, best epoch {}); {} kept", job.name, st.epoch,
               st.best_epoch, result.model_file.string());
      result.already_done = true;
    } else {
      log_info("{}: resuming after epoch {}", job.name, st.epoch);
    }
  }

  const std::size_t n = train_set.size();
  // Data parallel: each step takes a global batch of batch_size x world images; rank r trains
  // on positions [r * batch_size, (r + 1) * batch_size) of it (dist::sharding()).
  const auto shard = dist::sharding();
  const std::size_t bs = static_cast<std::size_t>(o.batch_size) * shard.world;
  const std::int64_t steps =
      o.steps_per_epoch > 0 ? o.steps_per_epoch : static_cast<std::int64_t>((n + bs - 1) / bs);
  std::vector<double> class_weight = {1.0, 1.0};
  if (o.class_weights == "balanced") {
    const auto c = count_classes(train_set);
    class_weight = {static_cast<double>(n) / (2.0 * c.negatives),
                    static_cast<double>(n) / (2.0 * c.positives)};
  }

  int epochs_this_call = 0;
  std::unique_ptr<Progress> progress;
  if (!result.already_done && !st.finished) {
    progress = std::make_unique<Progress>(job.name, static_cast<std::int64_t>(o.max_epochs) * steps,
                                          ProgressOptions{10.0, "step"});
    progress->resume_from(static_cast<std::int64_t>(st.epoch) * steps);
  }
  while (!st.finished && st.epoch < o.max_epochs) {
    if (job.stop_after_epochs > 0 && epochs_this_call >= job.stop_after_epochs) {
      result.interrupted = true;
      break;
    }
    const int epoch = st.epoch + 1;
    Rng rng(derive_seed(run_seed, fmt::format("{}/epoch/{}", job.name, epoch)));
    // Shuffled order (Fisher-Yates); with steps_per_epoch the order wraps around.
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    net->train();
    double loss_sum = 0;
    std::int64_t seen = 0;
    for (std::int64_t step = 0; step < steps; ++step) {
      std::vector<std::size_t> idx;
      std::vector<bool> flips;
      const std::size_t global_count =
          o.steps_per_epoch == 0 ? std::min(bs, n - static_cast<std::size_t>(step) * bs) : bs;
      for (std::size_t k = 0; k < bs; ++k) {
        const std::size_t pos = static_cast<std::size_t>(step) * bs + k;
        if (o.steps_per_epoch == 0 && pos >= n) break;    // last, partial batch
        const bool flip = o.flip && rng.uniform() < 0.5;  // drawn for the whole global batch
        if (k / o.batch_size != static_cast<std::size_t>(shard.rank)) continue;
        idx.push_back(order[pos % n]);
        flips.push_back(flip);
      }
      std::vector<std::int64_t> labels;
      std::vector<double> weights;
      for (auto i : idx) {
        labels.push_back(train_set[i].label);
        weights.push_back(class_weight[train_set[i].label]);
      }
      opt.zero_grad();
      double lv = 0;
      if (!idx.empty()) {  // a rank's slice of the last, partial global batch may be empty
        const auto x =
            load_classifier_batch(train_set, idx, o.image_size, o.model.in_channels, flips)
                .to(device);
        const auto y = torch::tensor(labels, torch::kInt64).to(device);
        const auto w = torch::tensor(weights, torch::kFloat32).to(device);
        auto loss = (bce_on_softmax(net->forward(x), y) * w).mean();
        lv = loss.item<double>();
        if (!std::isfinite(lv)) {
          throw Error(fmt::format("{}: non-finite training loss {} at epoch {}, step {}", job.name,
                                  lv, epoch, step + 1));
        }
        // Data parallel: scaled so that the mean over the ranks is the global batch's mean.
        if (shard.world > 1) loss = loss * (double(idx.size() * shard.world) / global_count);
        loss.backward();
      }
      dist::all_reduce_gradients(params);
      opt.step();
      loss_sum += lv * static_cast<double>(idx.size());
      seen += static_cast<std::int64_t>(idx.size());
      progress->update(static_cast<std::int64_t>(st.epoch) * steps + step + 1,
                       fmt::format("epoch {} loss {:.4f}", epoch, loss_sum / seen));
    }
    if (shard.world > 1) {  // the epoch's training loss over all ranks' images
      const auto sums = dist::all_reduce_sum({loss_sum, static_cast<double>(seen)});
      loss_sum = sums[0];
      seen = static_cast<std::int64_t>(sums[1]);
    }
    // Rank 0 validates; every rank takes its numbers, so all make the same decisions.
    auto val = dist::is_main() ? validate(*net, validation, o) : EpochStats{};
    if (shard.world > 1) {
      const auto v =
          dist::broadcast_values({val.loss, val.accuracy, val.sensitivity, val.specificity});
      val = {v[0], v[1], v[2], v[3]};
    }
    if (!std::isfinite(val.loss)) {
      throw Error(fmt::format("{}: non-finite validation loss at epoch {}", job.name, epoch));
    }
    // Keras EarlyStopping (restore_best_weights keeps this epoch's weights when it improves).
    const bool improved = val.loss - o.early_stopping_min_delta < st.es_best;
    if (improved) {
      st.es_best = val.loss;
      st.es_wait = 0;
      st.best_epoch = epoch;
      st.best_weights = snapshot(*net);
    } else {
      ++st.es_wait;
    }
    st.history += csv_line({std::to_string(epoch), num(st.lr), num(loss_sum / seen), num(val.loss),
                            num(val.accuracy), num(val.sensitivity), num(val.specificity),
                            improved ? "1" : "0"});
    // Keras ReduceLROnPlateau (cooldown 0).
    if (val.loss < st.plateau_best - o.plateau_min_delta) {
      st.plateau_best = val.loss;
      st.plateau_wait = 0;
    } else if (++st.plateau_wait >= o.plateau_patience) {
      const double new_lr = std::max(st.lr * o.plateau_factor, o.min_lr);
      if (new_lr < st.lr) {
        log_info("{}: epoch {}: validation loss flat for {} epochs, lr {:.3g} -> {:.3g}", job.name,
                 epoch, st.plateau_wait, st.lr, new_lr);
        st.lr = new_lr;
        opt.set_lr(st.lr);
      }
      st.plateau_wait = 0;
    }
    st.epoch = epoch;
    ++epochs_this_call;
    log_debug("{}: epoch {} train_loss {:.5f} val_loss {:.5f} val_acc {:.4f}", job.name, epoch,
              loss_sum / seen, val.loss, val.accuracy);
    if (st.es_wait >= o.early_stopping_patience) {
      st.stopped_early = true;
      st.finished = true;
      log_info("{}: early stopping at epoch {} (best epoch {}, val_loss {:.5f})", job.name, epoch,
               st.best_epoch, st.es_best);
    }
    if (st.epoch >= o.max_epochs) st.finished = true;
    if (dist::is_main()) {
      write_file_atomic(out_dir / "history.csv", st.history);
      save_checkpoint(ckpt_path, fp, st, *net, opt);
    }
    dist::barrier(fmt::format("after the checkpoint of epoch {}", epoch));
  }
  if (progress && st.finished) progress->finish();

  if (st.finished && !result.already_done && dist::is_main()) {
    if (o.restore_best && !st.best_weights.empty()) {
      torch::NoGradGuard no_grad;
      for (auto& [k, v] : models::classifier_state(*net)) v.copy_(st.best_weights.at(k));
    }
    auto meta = job.metadata;
    meta["name"] = job.name;
    meta["epochs_run"] = std::to_string(st.epoch);
    meta["best_epoch"] = std::to_string(st.best_epoch);
    meta["validation_split"] = o.validation_split;
    // The input side predict/evaluate must resize to.
    meta["image_size"] = std::to_string(
        load_classifier_image(train_set.front().path, o.image_size, o.model.in_channels).size(2));
    // model.pt last: its presence (with a finished checkpoint) marks the folder complete, so a
    // kill between these writes redoes them all on the next call instead of leaving the run
    // without its training.json.
    write_training_json(out_dir / "training.json", job, o, train_set, validation, st);
    write_file_atomic(out_dir / "history.csv", st.history);
    models::save_classifier_file(*net, result.model_file, meta);
    log_info("{}: wrote {}", job.name, result.model_file.string());
  }
  result.epochs_run = st.epoch;
  result.best_epoch = st.best_epoch;
  result.best_val_loss = st.es_best;
  result.stopped_early = st.stopped_early;
  return result;
}

ClassifierTrainResult run_train_classifier(const ClassifierOptions& options,
                                           const std::string& task, const std::string& train_config,
                                           std::uint64_t run_seed, const RunDir& run_dir) {
  const auto& configs = train_config_names();
  if (std::find(configs.begin(), configs.end(), train_config) == configs.end()) {
    throw UsageError(fmt::format("unknown training configuration '{}'; implemented: {}",
                                 train_config, fmt::join(configs, ", ")));
  }
  auto data = classifier_data_from_manifest(run_dir, task);
  const auto& validation = options.validation_split == "test" ? data.test : data.val;
  if (options.validation_split == "test") {
    log_warn(
        "validating on the TEST split (the authors' behaviour): early stopping and the "
        "learning-rate schedule see the test set, so test metrics are optimistic; outputs are "
        "marked validation_split=test");
  }
  require_both_classes(data.train, fmt::format("task {} train split", task));
  if (validation.empty()) {
    throw Error(
        fmt::format("task {}: the {} split of {} has no image; re-run prepare with a "
                    "validation fraction, or set classifier.validation_split",
                    task, options.validation_split, run_dir.manifest().string()));
  }
  const auto tc = count_classes(data.train);
  log_info(
      "{} / {} / {}: training on {} negatives + {} positives (skew {:.2f}), validating on "
      "{} images of the {} split",
      task, train_config, options.model.arch, tc.negatives, tc.positives, tc.skew(),
      validation.size(), options.validation_split);
  ClassifierTrainJob job;
  job.name = fmt::format("classifier/{}/{}/{}", task, train_config, options.model.arch);
  job.metadata = {{"task", task}, {"train_config", train_config}};
  return train_classifier(options, data.train, validation,
                          classifier_output_dir(run_dir, task, train_config, options.model.arch),
                          run_seed, job);
}

}  // namespace cxrsynth::train
