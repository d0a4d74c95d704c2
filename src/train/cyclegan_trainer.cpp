#include "train/cyclegan_trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/runtime.h"
#include "core/seed.h"
#include "core/sha256.h"
#include "data/image_io.h"
#include "dist/process_group.h"
#include "models/cyclegan/generator_io.h"
#include "train/checkpoint.h"
#include "train/cyclegan_step.h"
#include "train/gan_losses.h"
#include "train/image_pool.h"
#include "train/lr_schedule.h"

namespace cxrsynth::train {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCheckpointFormat = "cxrsynth-cyclegan-checkpoint/1";
constexpr int kCollapseSteps = 100;  // consecutive steps of a near-zero D loss
constexpr double kCollapseLoss = 1e-3;
constexpr double kIdentityChange = 0.002;  // mean |G(a) - a| in [0, 1] units

// Flattens an Options struct into `key = value` lines through its visit_fields.
struct Flattener {
  std::vector<std::pair<std::string, std::string>> out;
  std::string prefix;

  static std::string text(bool v) { return v ? "true" : "false"; }
  static std::string text(int v) { return std::to_string(v); }
  static std::string text(std::int64_t v) { return std::to_string(v); }
  static std::string text(double v) { return fmt::format("{}", v); }
  static std::string text(const std::string& v) { return v; }
  template <class T>
  static std::string text(const std::vector<T>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ",") + text(x);
    return s;
  }
  template <class T>
  void field(const char* name, T& value, const config::Doc&) {
    out.emplace_back(prefix + name, text(value));
  }
  template <class S>
  void section(const char* name, S& s) {
    const std::string saved = prefix;
    prefix += std::string(name) + ".";
    visit_fields(*this, s);
    prefix = saved;
  }
};

std::map<std::string, std::string> parse_options_text(const std::string& text) {
  std::map<std::string, std::string> m;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find(" = ");
    if (eq == std::string::npos) continue;
    m[line.substr(0, eq)] = line.substr(eq + 3);
  }
  return m;
}

std::vector<torch::Tensor> params_of(std::initializer_list<torch::nn::Module*> modules) {
  std::vector<torch::Tensor> out;
  for (auto* m : modules)
    for (auto& p : m->parameters()) out.push_back(p);
  return out;
}

void save_module(StateArchive& a, const std::string& prefix, torch::nn::Module& m) {
  for (const auto& p : m.named_parameters()) a.put_tensor(prefix + "/param/" + p.key(), p.value());
  for (const auto& b : m.named_buffers()) a.put_tensor(prefix + "/buffer/" + b.key(), b.value());
}

void load_module(const StateArchive& a, const std::string& prefix, torch::nn::Module& m) {
  torch::NoGradGuard no_grad;
  auto copy = [&](const std::string& key, torch::Tensor& dst) {
    const auto src = a.tensor(key);
    CXRSYNTH_CHECK(src.sizes() == dst.sizes(), "{}: '{}' has shape {} (the network expects {})",
                   a.source(), key, c10::str(src.sizes()), c10::str(dst.sizes()));
    dst.copy_(src);
  };
  for (auto& p : m.named_parameters()) copy(prefix + "/param/" + p.key(), p.value());
  for (auto& b : m.named_buffers()) copy(prefix + "/buffer/" + b.key(), b.value());
}

void save_adam(StateArchive& a, const std::string& prefix, torch::optim::Adam& opt) {
  const auto& params = opt.param_groups().at(0).params();
  auto& states = opt.state();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto it = states.find(c10::guts::to_string(params[i].unsafeGetTensorImpl()));
    if (it == states.end()) continue;
    const auto& s = static_cast<const torch::optim::AdamParamState&>(*it->second);
    const std::string k = fmt::format("{}/{}/", prefix, i);
    a.put_int(k + "step", s.step());
    a.put_tensor(k + "exp_avg", s.exp_avg());
    a.put_tensor(k + "exp_avg_sq", s.exp_avg_sq());
  }
}

void load_adam(const StateArchive& a, const std::string& prefix, torch::optim::Adam& opt) {
  const auto& params = opt.param_groups().at(0).params();
  auto& states = opt.state();
  states.clear();
  for (std::size_t i = 0; i < params.size(); ++i) {
    const std::string k = fmt::format("{}/{}/", prefix, i);
    if (!a.has(k + "step")) continue;
    auto s = std::make_unique<torch::optim::AdamParamState>();
    s->step(a.integer(k + "step"));
    const auto dev = params[i].device();  // copies onto the parameter's device
    s->exp_avg(a.tensor(k + "exp_avg").to(dev, /*non_blocking=*/false, /*copy=*/true));
    s->exp_avg_sq(a.tensor(k + "exp_avg_sq").to(dev, /*non_blocking=*/false, /*copy=*/true));
    states[c10::guts::to_string(params[i].unsafeGetTensorImpl())] = std::move(s);
  }
}

// [n, C, S, S] in [-1, 1] -> channel 0 as 8-bit rows, tiles side by side with 2-px gaps.
cv::Mat sample_grid(const std::vector<torch::Tensor>& columns) {
  const auto n = columns[0].size(0), s = columns[0].size(2);
  const int gap = 2;
  const int cols = static_cast<int>(columns.size());
  cv::Mat grid(static_cast<int>(n * s + (n - 1) * gap),
               static_cast<int>(cols * s + (cols - 1) * gap), CV_8U, cv::Scalar(255));
  for (int c = 0; c < cols; ++c) {
    const auto img = ((columns[c].select(1, 0).clamp(-1, 1) + 1) * 127.5)
                         .round()
                         .to(torch::kUInt8)
                         .cpu()
                         .contiguous();
    for (int64_t i = 0; i < n; ++i) {
      cv::Mat tile(static_cast<int>(s), static_cast<int>(s), CV_8U, img[i].data_ptr());
      tile.copyTo(grid(cv::Rect(static_cast<int>(c * (s + gap)), static_cast<int>(i * (s + gap)),
                                static_cast<int>(s), static_cast<int>(s))));
    }
  }
  return grid;
}

std::string fmt_value(double v) {
  return fmt::format("{:.8g}", v);
}

const std::vector<std::string>& loss_columns() {
  static const std::vector<std::string> cols = {"step",    "epoch",   "lr",    "g_adv_a", "g_adv_b",
                                                "cycle_a", "cycle_b", "idt_a", "idt_b",   "g_total",
                                                "d_a",     "d_b",     "time_s"};
  return cols;
}

// Keeps the header and the rows up to `step` (what an uninterrupted run has at that point).
void truncate_losses(const fs::path& path, std::int64_t step) {
  std::string out = csv_line(loss_columns());
  if (fs::exists(path)) {
    const auto table = read_csv(path);
    table.require_columns(loss_columns());
    for (std::size_t i = 0; i < table.size(); ++i)
      if (table.get_int(i, "step") <= step) out += csv_line(table.row(i));
  }
  write_file_atomic(path, out);
}

}  // namespace

std::string checkpoint_options_text(const GanOptions& o, const std::string& task,
                                    std::uint64_t seed, const std::string& data_fingerprint) {
  Flattener f;
  GanOptions copy = o;
  visit_fields(f, copy);
  std::string text;
  text += "task = " + task + "\n";
  text += fmt::format("seed = {}\n", seed);
  text += "data = " + data_fingerprint + "\n";
  for (const auto& [k, v] : f.out) {
    // Output cadence does not change the training; it may change on resume.
    if (k == "checkpoint_every" || k == "sample_every" || k == "samples") continue;
    text += "gan." + k + " = " + v + "\n";
  }
  return text;
}

std::vector<std::string> diff_options_text(const std::string& stored, const std::string& now) {
  const auto a = parse_options_text(stored), b = parse_options_text(now);
  std::vector<std::string> out;
  for (const auto& [k, v] : a) {
    const auto it = b.find(k);
    if (it == b.end()) {
      out.push_back(fmt::format("{}: checkpoint {}, now absent", k, v));
    } else if (it->second != v) {
      out.push_back(fmt::format("{}: checkpoint {}, now {}", k, v, it->second));
    }
  }
  for (const auto& [k, v] : b)
    if (!a.count(k)) out.push_back(fmt::format("{}: absent in checkpoint, now {}", k, v));
  return out;
}

TrainGanResult train_cyclegan(const GanOptions& o, const GanDataset& data, const TrainGanRun& run,
                              const fs::path& out_dir) {
  validate_gan_options(o);
  models::validate_generator_options(o.generator, o.crop_size);
  models::validate_discriminator_options(o.discriminator, o.crop_size);
  fs::create_directories(out_dir);
  remove_stale_temp_files(out_dir);  // a killed run's half-written checkpoint
  const fs::path ckpt_path = out_dir / "checkpoint.pt";
  const fs::path losses_path = out_dir / "losses.csv";
  if (!run.resume && fs::exists(ckpt_path))
    throw UsageError(fmt::format(
        "{} exists: pass --resume to continue that training, or remove {} to start over",
        ckpt_path.string(), out_dir.string()));
  if (run.resume && !fs::exists(ckpt_path))
    throw UsageError(fmt::format("--resume: no checkpoint at {}", ckpt_path.string()));

  // Weights: LibTorch's default generator, seeded from the run seed (G_A, G_B, D_A, D_B).
  torch::manual_seed(derive_seed(run.seed, "gan/" + run.task + "/init"));
  CycleGanNets nets = make_nets(o);
  const auto device = compute_device();  // --device (CPU: no copies)
  for (torch::nn::Module* m : std::initializer_list<torch::nn::Module*>{
           nets.g_a.get(), nets.g_b.get(), nets.d_a.get(), nets.d_b.get()})
    m->to(device);
  auto adam = [&](std::vector<torch::Tensor> params) {
    return torch::optim::Adam(std::move(params),
                              torch::optim::AdamOptions(o.lr).betas({o.beta1, o.beta2}));
  };
  torch::optim::Adam opt_g = adam(params_of({nets.g_a.get(), nets.g_b.get()}));
  torch::optim::Adam opt_d = adam(params_of({nets.d_a.get(), nets.d_b.get()}));
  ImagePool pool_a(o.pool_size), pool_b(o.pool_size);  // fakes of A (for D_A), of B (for D_B)

  const std::string options_text =
      checkpoint_options_text(o, run.task, run.seed, data.fingerprint());
  const int threads = at::get_num_threads();
  const int spe = data.steps_per_epoch();
  const std::int64_t total = static_cast<std::int64_t>(o.epochs) * spe;
  TrainGanResult result;
  result.total_steps = total;

  // The trainer's own bookkeeping, kept in the checkpoint so that a run resumed at any step
  // (also at the last one, killed before summary.json) reports what an uninterrupted run does.
  int collapse_run = 0;
  bool collapse_warned = false;
  std::map<std::string, double> last;  // the latest step's loss terms

  std::int64_t start = 0;
  if (run.resume) {
    const auto a = StateArchive::load(ckpt_path);
    if (a.string("format") != kCheckpointFormat)
      throw Error(fmt::format("{}: format '{}' (expected {})", ckpt_path.string(),
                              a.string("format"), kCheckpointFormat));
    // Data parallel: the global batch (and the per-rank pools) depend on the process count.
    require_same_world_size(a, ckpt_path, o.batch_size, dist::world_size());
    const auto diffs = diff_options_text(a.string("options"), options_text);
    if (!diffs.empty()) {
      std::string msg =
          fmt::format("--resume refused: the options differ from those {} was trained with:",
                      ckpt_path.string());
      for (const auto& d : diffs) msg += "\n  " + d;
      msg += "\nrestore them, or train into a fresh run directory";
      throw UsageError(msg);
    }
    if (a.integer("threads") != threads)
      log_warn(
          "resuming with {} thread(s); the checkpoint was written with {}: the result will "
          "not be bit-identical to an uninterrupted run",
          threads, a.integer("threads"));
    load_module(a, "G_A", *nets.g_a);
    load_module(a, "G_B", *nets.g_b);
    load_module(a, "D_A", *nets.d_a);
    load_module(a, "D_B", *nets.d_b);
    load_adam(a, "opt_G", opt_g);
    load_adam(a, "opt_D", opt_d);
    const std::string rank_key = dist::rank() == 0 ? "" : fmt::format("/rank{}", dist::rank());
    const std::string ka = "pool_a" + rank_key, kb = "pool_b" + rank_key;
    pool_a.restore(a.has(ka) ? a.tensor(ka).to(device) : torch::Tensor());
    pool_b.restore(a.has(kb) ? a.tensor(kb).to(device) : torch::Tensor());
    auto generator = at::detail::getDefaultCPUGenerator();
    generator.set_state(a.tensor("torch_rng"));
    if (a.has("trainer_state")) {
      const auto t = nlohmann::json::parse(a.string("trainer_state"));
      last = t.at("last_losses").get<std::map<std::string, double>>();
      collapse_run = t.at("collapse_run").get<int>();
      collapse_warned = t.at("collapse_warned").get<bool>();
      result.warnings = t.at("warnings").get<std::vector<std::string>>();
    } else {
      log_warn(
          "{} predates the trainer state in checkpoints: summary.json's final losses and "
          "collapse warnings cover only the steps run from now on",
          ckpt_path.string());
    }
    start = a.integer("step");
    CXRSYNTH_CHECK(start <= total, "{}: step {} is beyond the {} steps configured",
                   ckpt_path.string(), start, total);
    result.resumed_from = start;
    if (dist::is_main()) truncate_losses(losses_path, start);
    log_info("gan/{}: resuming at step {} of {}", run.task, start, total);
  } else if (dist::is_main()) {
    write_file_atomic(losses_path, csv_line(loss_columns()));
  }

  auto fixed = data.fixed_samples(o.samples);
  fixed.real_a = fixed.real_a.to(device);
  fixed.real_b = fixed.real_b.to(device);
  auto write_samples = [&](std::int64_t step) {
    torch::NoGradGuard no_grad;
    const auto fb = nets.g_a->forward(fixed.real_a), fa = nets.g_b->forward(fixed.real_b);
    const auto ra = nets.g_b->forward(fb), rb = nets.g_a->forward(fa);
    const auto n = std::min(fixed.real_a.size(0), fixed.real_b.size(0));
    const cv::Mat grid =
        sample_grid({fixed.real_a.slice(0, 0, n), fb.slice(0, 0, n), ra.slice(0, 0, n),
                     fixed.real_b.slice(0, 0, n), fa.slice(0, 0, n), rb.slice(0, 0, n)});
    data::write_png_atomic(out_dir / "samples" / fmt::format("step_{:08d}.png", step), grid);
  };
  // Every rank calls it (the pools, one per rank, are gathered); rank 0 writes.
  auto write_checkpoint = [&](std::int64_t step) {
    const auto pools_a =
        pool_a.count() > 0 ? dist::all_gather(pool_a.contents()) : std::vector<torch::Tensor>{};
    const auto pools_b =
        pool_b.count() > 0 ? dist::all_gather(pool_b.contents()) : std::vector<torch::Tensor>{};
    if (!dist::is_main()) return;
    StateArchive a;
    a.put_string("format", kCheckpointFormat);
    a.put_string("options", options_text);
    a.put_string("options_sha256", sha256_hex(options_text));
    a.put_int("step", step);
    a.put_int("threads", threads);
    a.put_int("world_size", dist::world_size());
    save_module(a, "G_A", *nets.g_a);
    save_module(a, "G_B", *nets.g_b);
    save_module(a, "D_A", *nets.d_a);
    save_module(a, "D_B", *nets.d_b);
    save_adam(a, "opt_G", opt_g);
    save_adam(a, "opt_D", opt_d);
    for (std::size_t r = 0; r < pools_a.size(); ++r)
      a.put_tensor(r == 0 ? "pool_a" : fmt::format("pool_a/rank{}", r), pools_a[r]);
    for (std::size_t r = 0; r < pools_b.size(); ++r)
      a.put_tensor(r == 0 ? "pool_b" : fmt::format("pool_b/rank{}", r), pools_b[r]);
    a.put_tensor("torch_rng", at::detail::getDefaultCPUGenerator().get_state());
    nlohmann::ordered_json t;
    t["last_losses"] = last;
    t["collapse_run"] = collapse_run;
    t["collapse_warned"] = collapse_warned;
    t["warnings"] = result.warnings;
    a.put_string("trainer_state", t.dump());
    // The exported generator first: whatever a checkpoint at this step implies already exists
    // when the checkpoint does (a kill in between redoes the steps and rewrites the same file).
    models::save_generator(out_dir, nets.g_a, {o.generator, o.crop_size, run.task, step});
    a.save(ckpt_path);
  };

  std::ofstream losses;  // rank 0 only
  if (dist::is_main()) {
    losses.open(losses_path, std::ios::app | std::ios::binary);
    CXRSYNTH_CHECK(losses.good(), "cannot append to {}", losses_path.string());
  }
  const auto g_params = params_of({nets.g_a.get(), nets.g_b.get()});
  const auto d_params = params_of({nets.d_a.get(), nets.d_b.get()});
  Progress progress(fmt::format("train-gan {}", run.task), total, {10.0, "step"});
  progress.resume_from(start);
  const auto t0 = std::chrono::steady_clock::now();
  std::int64_t last_checkpoint = start;
  const std::int64_t end =
      run.stop_after_steps >= 0 ? std::min(total, run.stop_after_steps) : total;

  for (std::int64_t step = start; step < end; ++step) {
    const int epoch = static_cast<int>(step / spe);
    const double lr = o.lr * lr_factor(o, epoch);
    for (auto* opt : {&opt_g, &opt_d})
      for (auto& g : opt->param_groups())
        static_cast<torch::optim::AdamOptions&>(g.options()).lr(lr);
    auto batch = data.batch(step);
    batch.real_a = batch.real_a.to(device);
    batch.real_b = batch.real_b.to(device);

    auto check_finite = [&](const char* name, const torch::Tensor& t) {
      const double v = t.item<double>();
      if (!std::isfinite(v))
        throw Error(fmt::format(
            "gan/{}: loss {} is {} at epoch {}, step {} (global step {}); training stopped. "
            "{} (step {}) is intact; lower gan.lr or check the data",
            run.task, name, v, epoch + 1, step % spe + 1, step + 1, ckpt_path.string(),
            last_checkpoint));
      last[name] = v;
    };

    // One step (train/cyclegan_step.h): generators, then discriminators on pooled fakes; its
    // generator draws the pools' choices and the wgan-gp interpolation weights.
    Rng step_rng(derive_seed(run.seed, fmt::format("gan/{}/pool/{}", run.task, step)));
    StepHooks hooks;
    hooks.check = check_finite;
    hooks.sync_gradients = [](const std::vector<at::Tensor>& p) {
      dist::all_reduce_gradients(p);  // data parallel: mean over the ranks' batches
    };
    cyclegan_step(nets, opt_g, opt_d, pool_a, pool_b, batch.real_a, batch.real_b, step_rng, o,
                  hooks);

    const std::int64_t done = step + 1;
    if (dist::distributed()) {  // log the global batch's losses (mean of the ranks' means)
      static const char* kNames[] = {"g_adv_a", "g_adv_b", "cycle_a", "cycle_b", "idt_a",
                                     "idt_b",   "g_total", "d_a",     "d_b"};
      std::vector<double> v;
      for (const char* k : kNames) v.push_back(last[k]);
      v = dist::all_reduce_sum(v);
      for (std::size_t i = 0; i < v.size(); ++i) last[kNames[i]] = v[i] / dist::world_size();
    }
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (dist::is_main())
      losses << csv_line({std::to_string(done), std::to_string(epoch + 1), fmt_value(lr),
                          fmt_value(last["g_adv_a"]), fmt_value(last["g_adv_b"]),
                          fmt_value(last["cycle_a"]), fmt_value(last["cycle_b"]),
                          fmt_value(last["idt_a"]), fmt_value(last["idt_b"]),
                          fmt_value(last["g_total"]), fmt_value(last["d_a"]),
                          fmt_value(last["d_b"]), fmt::format("{:.3f}", secs)});
    losses.flush();

    // A WGAN critic's loss is a signed score difference: near zero says nothing there.
    if (o.adv_loss != "wgan-gp" && std::min(last["d_a"], last["d_b"]) < kCollapseLoss) {
      if (++collapse_run >= kCollapseSteps && !collapse_warned) {
        const auto w = fmt::format(
            "gan/{}: a discriminator loss stayed below {} for {} steps (at step {}): the "
            "discriminator has collapsed and the generators get no useful gradient",
            run.task, kCollapseLoss, kCollapseSteps, done);
        log_warn("{}", w);
        result.warnings.push_back(w);
        collapse_warned = true;
      }
    } else {
      collapse_run = 0;
    }

    // Samples before the checkpoint, for the same reason as the generator in write_checkpoint.
    if (dist::is_main() && ((o.sample_every > 0 && done % o.sample_every == 0) || done == total))
      write_samples(done);
    if (done % o.checkpoint_every == 0 || done == end) {
      write_checkpoint(done);
      dist::barrier(fmt::format("after checkpoint step {}", done));  // rank 0 has written it
      last_checkpoint = done;
    }
    progress.update(
        done, fmt::format("g {:.3f} d {:.3f}/{:.3f}", last["g_total"], last["d_a"], last["d_b"]));
  }
  losses.close();
  result.steps = end;
  if (end < total) return result;  // stopped early on request (tests)
  progress.finish();

  {
    torch::NoGradGuard no_grad;
    result.mean_abs_change_ab =
        (nets.g_a->forward(fixed.real_a) - fixed.real_a).abs().mean().item<double>() / 2;
    result.mean_abs_change_ba =
        (nets.g_b->forward(fixed.real_b) - fixed.real_b).abs().mean().item<double>() / 2;
  }
  if (result.mean_abs_change_ab < kIdentityChange) {
    const auto w = fmt::format(
        "gan/{}: G_A is still about the identity after {} steps (mean |G_A(a) - a| = {:.5f} "
        "in [0, 1] units, threshold {}): synthetic images would be copies of the inputs; train "
        "longer or check samples/",
        run.task, total, result.mean_abs_change_ab, kIdentityChange);
    log_warn("{}", w);
    result.warnings.push_back(w);
  }
  if (!dist::is_main()) return result;  // rank 0 writes the summary
  nlohmann::ordered_json j;
  j["task"] = run.task;
  j["steps"] = total;
  j["resumed_from"] = result.resumed_from;
  j["steps_per_epoch"] = spe;
  j["domain_a_images"] = data.size_a();
  j["domain_b_images"] = data.size_b();
  j["final_losses"] = last;
  j["mean_abs_change_ab"] = result.mean_abs_change_ab;
  j["mean_abs_change_ba"] = result.mean_abs_change_ba;
  j["warnings"] = result.warnings;
  write_file_atomic(out_dir / "summary.json", j.dump(2) + "\n");
  log_info("gan/{}: done, {} steps; mean |G_A(a) - a| = {:.4f}", run.task, total,
           result.mean_abs_change_ab);
  return result;
}

TrainGanResult run_train_gan(const GanOptions& options, const std::string& task, std::uint64_t seed,
                             bool resume, const RunDir& run_dir) {
  validate_gan_options(options);
  auto data = with_context("while loading the GAN data of task " + task, [&] {
    return GanDataset::from_manifest(run_dir.manifest(), run_dir.data_dir(), task, options, seed);
  });
  if (dist::distributed()) {  // global batch = gan.batch_size x WORLD_SIZE
    data.set_sharding(dist::sharding());
    log_info("gan/{}: rank {} of {}, global batch {} x {} = {}", task, dist::rank(),
             dist::world_size(), options.batch_size, dist::world_size(),
             options.batch_size * dist::world_size());
  }
  TrainGanRun run;
  run.task = task;
  run.seed = seed;
  run.resume = resume;
  return train_cyclegan(options, data, run, run_dir.gan_dir(task));
}

}  // namespace cxrsynth::train
