// `cxrsynth config show`: the resolved configuration, non-defaults marked [default: X].
// `cxrsynth config json`: the resolved configuration as JSON (a valid --config file).
#include <iostream>

#include "cli/common.h"
#include "config/config_io.h"

namespace cxrsynth::cli {

void add_config_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("config", "Show the resolved configuration");
  cmd->require_subcommand(1);

  auto args = std::make_shared<CommonArgs>();
  auto docs = std::make_shared<bool>(false);
  auto* show = cmd->add_subcommand(
      "show", "Print every key with its resolved value; non-defaults marked [default: X]");
  add_common_options(*show, *args, /*needs_run_dir=*/false);
  show->add_flag("--docs", *docs, "Append each key's description and source");
  show->callback([args, docs] {
    const Config cfg = resolve_config(*args);
    std::cout << config::show(cfg, *docs);
  });

  auto jargs = std::make_shared<CommonArgs>();
  auto* json = cmd->add_subcommand("json", "Print the resolved configuration as JSON");
  add_common_options(*json, *jargs, /*needs_run_dir=*/false);
  json->callback([jargs] { std::cout << config::to_json(resolve_config(*jargs)); });
}

}  // namespace cxrsynth::cli
