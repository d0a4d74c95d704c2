// `cxrsynth prepare`: data sources -> R/data/manifest.csv, images, summary.json (Fig. 3 table).
#include <memory>

#include "cli/common.h"
#include "data/prepare.h"

namespace cxrsynth::cli {

void add_prepare_command(CLI::App& app) {
  auto args = std::make_shared<CommonArgs>();
  auto skip_missing = std::make_shared<bool>(false);
  auto skip_bad = std::make_shared<bool>(false);
  auto* cmd = app.add_subcommand(
      "prepare",
      "Read the data sources (data.cohen, data.rsna, data.folder, data.phantom), store "
      "preprocessed images, split by patient and write R/data/manifest.csv and summary.json");
  add_common_options(*cmd, *args, /*needs_run_dir=*/true);
  cmd->add_flag("--skip-missing", *skip_missing,
                "Leave out rows whose image file is missing (= --set data.skip_missing=true)");
  cmd->add_flag("--skip-bad", *skip_bad,
                "Leave out undecodable images and bad CSV rows, listed in data/rejected.csv (= "
                "--set data.skip_bad=true)");
  cmd->callback([args, skip_missing, skip_bad] {
    CommonArgs a = *args;
    if (*skip_missing) a.sets.push_back("data.skip_missing=true");
    if (*skip_bad) a.sets.push_back("data.skip_bad=true");
    const Config cfg = begin_stage(a, "prepare");
    data::run_prepare(cfg.data, static_cast<std::uint64_t>(cfg.run.seed), RunDir(a.run_dir),
                      cfg.run.threads);
  });
}

}  // namespace cxrsynth::cli
