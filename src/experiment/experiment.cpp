// run_experiment (experiment.h): prepared data -> CycleGANs and synthetic sets -> the cells ->
// verdicts and tables. The parts live in grid.cpp, synthetic_sets.cpp, cells.cpp and
// tables.cpp (experiment_internal.h).
#include "experiment/experiment.h"

#include <fmt/format.h>

#include <algorithm>
#include <iostream>

#include "core/atomic_file.h"
#include "core/log.h"
#include "experiment/experiment_internal.h"

namespace cxrsynth::experiment {
namespace {

// Up to `per_set` images of each synthetic set, spread evenly over it (deterministic).
std::vector<train::ClassifierSample> feature_extras(
    const std::map<std::string, std::vector<train::ClassifierSample>>& synthetic, int per_set) {
  std::vector<train::ClassifierSample> out;
  for (const auto& [task, set] : synthetic) {
    const std::size_t n = std::min(set.size(), static_cast<std::size_t>(std::max(0, per_set)));
    for (std::size_t k = 0; k < n; ++k) out.push_back(set[k * set.size() / n]);
  }
  return out;
}

}  // namespace

ExperimentResult run_experiment(const ExperimentOptions& o, const Config& cfg,
                                const RunDir& run_dir) {
  detail::validate(o);
  run_dir.create();
  detail::ensure_prepared(cfg, run_dir);

  // The synthetic sets the grid needs, made (or re-made) first.
  detail::GridInputs inputs;
  const auto synth_tasks = detail::synthetic_tasks_needed(o);
  for (const auto& t : synth_tasks) {
    detail::ensure_synthetic(cfg, t, run_dir);
    inputs.synthetic[t] = load_synthetic_positives(run_dir, t);
    log_info(
        "experiment: {} synthetic positives from the {} generator (train-split sources "
        "checked)",
        inputs.synthetic[t].size(), t);
  }
  inputs.content_sha = detail::content_hashes(run_dir, synth_tasks);
  inputs.feature_extras = feature_extras(inputs.synthetic, o.feature_synthetic);

  const auto grid = detail::plan_grid(o);
  log_info(
      "experiment: [4/4] {} classifier cells ({} tasks x configurations x {} models x {} "
      "seeds)",
      grid.size(), o.tasks.size(), o.models.size(), o.seeds.size());
  ExperimentResult result;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    result.cells.push_back(detail::run_cell(grid[i], i + 1, grid.size(), cfg, run_dir, inputs));
  }
  detail::add_verdicts(result.cells);

  const auto out = run_dir.root() / "experiment";
  result.tables_markdown = detail::md_tables(o, result.cells);
  write_file_atomic(out / "tables.md", result.tables_markdown);
  write_file_atomic(out / "tables.csv", detail::csv_tables(result.cells));
  write_file_atomic(out / "tables.json", detail::json_tables(o, result.cells));
  if (o.print) std::cout << result.tables_markdown << std::flush;
  log_info("experiment: wrote {}/tables.md, tables.csv, tables.json", out.string());
  return result;
}

}  // namespace cxrsynth::experiment
