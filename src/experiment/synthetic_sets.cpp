// What the grid's cells train on (experiment_internal.h): the prepared data, the CycleGANs and
// their synthetic sets, re-made when the generator that made them is no longer the current
// one, and the content hashes that tell a cell whether its training images changed.
#include <fmt/format.h>

#include <map>
#include <set>

#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/sha256.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "data/tasks.h"
#include "experiment/experiment_internal.h"
#include "synth/synthesize.h"
#include "train/cyclegan_trainer.h"

namespace cxrsynth::experiment {

namespace fs = std::filesystem;
using train::ClassifierSample;

namespace detail {
namespace {

std::string set_name(const std::string& task) {
  return task == kNvc ? "G_NC" : "G_PC";
}

// Why R/synthetic/<task>/manifest.csv cannot be reused ("" when it can).
std::string stale_reason(const fs::path& manifest, const fs::path& generator) {
  const auto table = read_csv(manifest);
  table.require_columns({"checkpoint_sha256"});
  std::set<std::string> recorded;
  for (std::size_t i = 0; i < table.size(); ++i) recorded.insert(table.at(i, "checkpoint_sha256"));
  const auto current = sha256_file(generator);
  if (recorded.size() == 1 && *recorded.begin() == current) return "";
  const std::string first = recorded.empty() ? std::string("(no rows)") : *recorded.begin();
  return fmt::format(
      "it was made by the generator with sha256 {}{}, but {} now has sha256 {} (the CycleGAN "
      "was retrained)",
      first.substr(0, 12), recorded.size() > 1 ? " and others" : "", generator.string(),
      current.substr(0, 12));
}

}  // namespace

void ensure_prepared(const Config& cfg, const RunDir& run_dir) {
  if (fs::exists(run_dir.manifest())) {
    log_info("experiment: reusing prepared data {}", run_dir.manifest().string());
    return;
  }
  log_info("experiment: [1/4] preparing data into {}", run_dir.data_dir().string());
  data::run_prepare(cfg.data, static_cast<std::uint64_t>(cfg.run.seed), run_dir, cfg.run.threads);
}

void ensure_synthetic(const Config& cfg, const std::string& task, const RunDir& run_dir) {
  const auto synth_manifest = run_dir.synthetic_dir(task) / "manifest.csv";
  const auto gan_dir = run_dir.gan_dir(task);
  const auto generator = gan_dir / "generator_ab.pt";
  const bool gan_done = fs::exists(gan_dir / "summary.json") && fs::exists(generator);
  if (fs::exists(synth_manifest)) {
    if (!gan_done) {
      log_warn(
          "experiment: reusing synthetic set {} without checking which generator made it: "
          "{} is missing",
          synth_manifest.string(), generator.string());
      return;
    }
    const auto why = stale_reason(synth_manifest, generator);
    if (why.empty()) {
      log_info("experiment: reusing synthetic set {} (made by the current generator)",
               synth_manifest.string());
      return;
    }
    log_warn("experiment: re-synthesizing {}: {}", synth_manifest.string(), why);
  }
  if (gan_done) {
    log_info("experiment: reusing trained CycleGAN {}", gan_dir.string());
  } else {
    const bool resume = fs::exists(gan_dir / "checkpoint.pt");
    log_info("experiment: [2/4] training the {} CycleGAN ({}) into {}", task,
             resume ? "resuming its checkpoint" : "from scratch", gan_dir.string());
    const auto r = train::run_train_gan(cfg.gan, task, static_cast<std::uint64_t>(cfg.run.seed),
                                        resume, run_dir);
    for (const auto& w : r.warnings) log_warn("{} CycleGAN: {}", task, w);
  }
  log_info("experiment: [3/4] synthesizing the {} set into {}", set_name(task),
           run_dir.synthetic_dir(task).string());
  synth::run_synthesize(cfg.synth, task, run_dir);
  if (!fs::exists(synth_manifest)) {
    throw Error(fmt::format("synthesize did not write {}", synth_manifest.string()));
  }
}

std::map<std::string, std::string> content_hashes(const RunDir& run_dir,
                                                  const std::vector<std::string>& synthetic_tasks) {
  std::map<std::string, std::string> out;
  for (const auto& r : data::read_manifest(run_dir.manifest())) out[r.id] = r.sha256;
  for (const auto& task : synthetic_tasks) {
    const auto file = run_dir.synthetic_dir(task) / "manifest.csv";
    const auto table = read_csv(file);
    table.require_columns({"id", "output_sha256"});
    for (std::size_t i = 0; i < table.size(); ++i)
      out[table.at(i, "id")] = table.at(i, "output_sha256");
  }
  return out;
}

}  // namespace detail

std::vector<ClassifierSample> load_synthetic_positives(const RunDir& run_dir,
                                                       const std::string& task) {
  data::find_task(task);
  const auto dir = run_dir.synthetic_dir(task);
  const auto file = dir / "manifest.csv";
  if (!fs::exists(file)) {
    throw Error(
        fmt::format("{} not found: run `cxrsynth synthesize --run-dir {} --task {}` "
                    "(or `cxrsynth experiment`, which runs it)",
                    file.string(), run_dir.root().string(), task));
  }
  const auto table = read_csv(file);
  table.require_columns({"id", "source_id", "source_patient_id", "source_split", "path"});
  const auto rows = data::read_manifest(run_dir.manifest());
  std::map<std::string, const data::ManifestRow*> by_id;
  std::map<std::string, std::string> held_out_patients;  // patient -> split (val/test)
  for (const auto& r : rows) {
    by_id[r.id] = &r;
    if (r.split != "train") held_out_patients[r.patient_id] = r.split;
  }
  std::vector<ClassifierSample> out;
  out.reserve(table.size());
  for (std::size_t i = 0; i < table.size(); ++i) {
    const auto& source_id = table.at(i, "source_id");
    const auto& patient = table.at(i, "source_patient_id");
    const auto& split = table.at(i, "source_split");
    const auto refuse = [&](const std::string& why) {
      throw Error(fmt::format(
          "{}: synthetic image {} was made from source {} (patient {}): {}; synthetic training "
          "images must only be made from TRAIN-split sources (a val/test patient would leak "
          "into training). Re-run synthesize on this run's data",
          table.where(i), table.at(i, "id"), source_id, patient, why));
    };
    if (split != "train") refuse(fmt::format("its source_split is '{}'", split));
    const auto it = by_id.find(source_id);
    if (it == by_id.end())
      refuse(fmt::format("no row of {} has that id", run_dir.manifest().string()));
    if (it->second->split != "train") {
      refuse(fmt::format("{} puts it in the {} split", run_dir.manifest().string(),
                         it->second->split));
    }
    const auto& real_patient = it->second->patient_id;
    for (const auto* p : {&patient, &real_patient}) {
      const auto h = held_out_patients.find(*p);
      if (h != held_out_patients.end()) {
        refuse(fmt::format("patient {} has images in the {} split", *p, h->second));
      }
    }
    ClassifierSample s;
    s.id = table.at(i, "id");
    s.patient_id = "synthetic:" + real_patient;
    s.path = dir / table.at(i, "path");
    s.label = 1;
    s.origin = "synthetic:" + task;
    out.push_back(std::move(s));
  }
  if (out.empty()) throw Error(fmt::format("{}: no synthetic image", file.string()));
  return out;
}

}  // namespace cxrsynth::experiment
