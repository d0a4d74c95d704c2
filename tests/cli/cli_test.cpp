// The CLI contract: exit codes 0 / 2 / 1, errors as context lines on stderr.
#include <gtest/gtest.h>

#include "support/temp_dir.h"

namespace cxrsynth {

using testing::run_cli;

TEST(Cli, HelpListsSubcommandsAndExitsZero) {
  const auto r = run_cli("--help");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("config"), std::string::npos) << r.output;
}

TEST(Cli, NoSubcommandIsUsageError) {
  EXPECT_EQ(run_cli("").exit_code, 2);
}

TEST(Cli, UnknownOptionIsUsageError) {
  EXPECT_EQ(run_cli("config show --bogus").exit_code, 2);
}

TEST(Cli, ConfigShowPaperPresetMarksDefaults) {
  const auto preset = testing::source_dir() / "configs" / "paper.json";
  const auto r = run_cli("config show --config " + preset.string());
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("run.seed = "), std::string::npos) << r.output;
}

TEST(Cli, MisspelledKeyInFileExitsTwoNamingIt) {
  testing::TempDir dir;
  testing::write_text(dir / "bad.json", R"({"run": {"thread": 2}})");
  const auto r = run_cli("config show --config " + (dir / "bad.json").string());
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown config key 'run.thread'"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("valid keys at 'run': seed, threads, device"), std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("terminate"), std::string::npos) << "no C++ backtrace: " << r.output;
}

TEST(Cli, SetOfMissingKeyExitsTwo) {
  const auto r = run_cli("config show --set run.nothing=1");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown config key 'run.nothing'"), std::string::npos) << r.output;
}

TEST(Cli, SeedShortcutOverridesSet) {
  const auto r = run_cli("config show --set run.seed=4 --seed 5");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("run.seed = 5  [default: 0]"), std::string::npos) << r.output;
}

TEST(Cli, BadDeviceIsUsageError) {
  const auto r = run_cli("config show --device tpu");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("invalid device 'tpu'"), std::string::npos) << r.output;
}

}  // namespace cxrsynth
