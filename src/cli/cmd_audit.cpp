// `cxrsynth audit --run-dir R --task T [--classifier <config>/<arch>]`: memorization (nearest
// COVID-19 and Normal/Pneumonia training images of every synthetic image, in pixel and classifier
// feature space, flagged against a real-vs-real baseline), the PHI check, and FID/KID against
// the real COVID-19 test images with bootstrap intervals. Writes R/audit/<task>/ (audit/audit.h,
// docs/AUDIT.md) and prints a summary.
#include <fmt/format.h>

#include <memory>

#include "audit/audit.h"
#include "cli/common.h"
#include "data/tasks.h"

namespace cxrsynth::cli {

void add_audit_command(CLI::App& app) {
  auto args = std::make_shared<CommonArgs>();
  auto task = std::make_shared<std::string>();
  auto classifier = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "audit",
      "Audit a task's synthetic set: nearest training images (possible memorization of COVID-19 "
      "training patients), PHI in outputs, FID/KID against real COVID-19 test images on a run "
      "classifier's features; writes R/audit/<task>/");
  add_common_options(*cmd, *args, /*needs_run_dir=*/true);
  cmd->add_option("--task", *task, "normal-vs-covid | pneumonia-vs-covid")
      ->required()
      ->check(CLI::IsMember(data::task_names()));
  cmd->add_option("--classifier", *classifier,
                  "Feature space: <train config>/<arch> under R/classifiers/<task>/ (default: "
                  "audit.classifier, else the 'real' configuration's first trained arch)");
  cmd->callback([args, task, classifier] {
    // Through --set, so configs/audit.json records the classifier used.
    if (!classifier->empty()) args->sets.push_back("audit.classifier=" + *classifier);
    const Config cfg = begin_stage(*args, "audit");
    const auto result = audit::run_audit(cfg.audit, *task, static_cast<std::uint64_t>(cfg.run.seed),
                                         cfg.run.threads, RunDir(args->run_dir));
    fmt::print("{}", audit::format_audit_summary(result));
  });
}

}  // namespace cxrsynth::cli
