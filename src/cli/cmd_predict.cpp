// `cxrsynth predict --checkpoint C FILE...`: prints P(COVID-19) for each image (PNG, JPEG,
// DICOM) as CSV (file,p_covid) on stdout. C is a model.pt (or, for DenseNet + bagging trees, a
// bgt.json) written by train-classifier, or its folder.
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/common.h"
#include "core/csv.h"
#include "core/runtime.h"
#include "eval/classifier/classifier_inference.h"

namespace cxrsynth::cli {

void add_predict_command(CLI::App& app) {
  auto args = std::make_shared<CommonArgs>();
  auto checkpoint = std::make_shared<std::string>();
  auto files = std::make_shared<std::vector<std::string>>();
  auto* cmd = app.add_subcommand(
      "predict", "Print P(COVID-19) per image (PNG, JPEG, DICOM) from a trained classifier");
  add_common_options(*cmd, *args, /*needs_run_dir=*/false);
  cmd->add_option("--checkpoint", *checkpoint,
                  "model.pt or bgt.json (*-bgt) from train-classifier, or the folder holding it")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("files", *files, "Images to score")->required();
  cmd->callback([args, checkpoint, files] {
    const Config cfg = resolve_config(*args);
    apply_threads(cfg.run.threads);
    const std::vector<fs::path> paths(files->begin(), files->end());
    const auto p = eval::predict_files(*checkpoint, paths);
    std::cout << csv_line({"file", "p_covid"});
    for (std::size_t i = 0; i < paths.size(); ++i) {
      std::cout << csv_line({paths[i].string(), fmt::format("{:.6f}", p[i])});
    }
  });
}

}  // namespace cxrsynth::cli
