// The whole resolved configuration of a run: one section per stage, each owned by its module.
// Precedence: defaults (member initialisers) < --config files in order < --set key=value.
#pragma once

#include <cstdint>
#include <string>

#include "audit/audit_options.h"
#include "config/fields.h"
#include "data/prepare_options.h"
#include "eval/classifier/evaluate_options.h"
#include "experiment/experiment_options.h"
#include "synth/synth_options.h"
#include "train/classifier/classifier_options.h"
#include "train/gan_options.h"

namespace cxrsynth {

// Process-wide run settings (not architecture: never stored in checkpoints).
struct RunOptions {
  std::int64_t seed = 0;       // run seed; every consumer derives its own from it. Source: ours
  int threads = 0;             // intra-op threads; 0 = one per available core. Source: ours
  std::string device = "cpu";  // cpu | cuda | cuda:N
};

template <class V>
void visit_fields(V& v, RunOptions& o) {
  using config::Doc;
  v.field("seed", o.seed,
          Doc("Run seed; each consumer derives its own seed from it", "ours").min(0));
  v.field("threads", o.threads,
          Doc("Intra-op CPU threads; 0 = one per available core (LibTorch defaults to 1)", "ours")
              .range(0, 1024));
  v.field("device", o.device, Doc("Compute device: cpu, cuda or cuda:N", "ours"));
}

struct Config {
  RunOptions run;
  data::PrepareOptions data;
  train::GanOptions gan;
  synth::SynthOptions synth;
  train::ClassifierOptions classifier;
  eval::EvaluateOptions evaluate;
  experiment::ExperimentOptions experiment;
  audit::AuditOptions audit;
};

template <class V>
void visit_fields(V& v, Config& c) {
  v.section("run", c.run);
  v.section("data", c.data);
  v.section("gan", c.gan);
  v.section("synth", c.synth);
  v.section("classifier", c.classifier);
  v.section("evaluate", c.evaluate);
  v.section("experiment", c.experiment);
  v.section("audit", c.audit);
}

}  // namespace cxrsynth
