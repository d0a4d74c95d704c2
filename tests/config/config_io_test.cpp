#include "config/config_io.h"

#include <gtest/gtest.h>

#include "core/atomic_file.h"
#include "core/error.h"
#include "support/temp_dir.h"

namespace cxrsynth::config {

std::string usage_error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const UsageError& e) {
    return e.what();
  }
  return "<no UsageError>";
}

TEST(Config, DefaultsComeFromStructs) {
  const Config c = load({}, {});
  EXPECT_EQ(c.run.seed, 0);
  EXPECT_EQ(c.run.device, "cpu");
  EXPECT_EQ(c.data.image_size, 256);
  EXPECT_EQ(diff(c), "(all defaults)\n");
}

TEST(Config, PrecedenceDefaultsFilesThenSets) {
  testing::TempDir dir;
  testing::write_text(dir / "a.json", R"({"run": {"seed": 1, "threads": 2}})");
  testing::write_text(dir / "b.json", R"({"run": {"seed": 2}})");
  const Config c = load({(dir / "a.json").string(), (dir / "b.json").string()}, {"run.threads=1"});
  EXPECT_EQ(c.run.seed, 2);     // later file wins
  EXPECT_EQ(c.run.threads, 1);  // --set wins over files
  EXPECT_EQ(c.run.device, "cpu");
}

TEST(Config, UnknownKeyNamesItAndListsValidKeys) {
  Config c;
  const auto msg = usage_error_of([&] { apply_json_text(c, R"({"run": {"sed": 3}})", "x.json"); });
  EXPECT_NE(msg.find("unknown config key 'run.sed'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'seed'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("seed, threads, device"), std::string::npos) << msg;
  EXPECT_NE(msg.find("x.json"), std::string::npos) << msg;

  const auto top = usage_error_of([&] { apply_json_text(c, R"({"rnu": {}})", "y.json"); });
  EXPECT_NE(top.find("valid keys at '<top level>': run, data"), std::string::npos) << top;
}

TEST(Config, SetOfMissingKeyIsTheSameError) {
  Config c;
  const auto msg = usage_error_of([&] { apply_set(c, "run.nope=1"); });
  EXPECT_NE(msg.find("unknown config key 'run.nope'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("valid keys at 'run'"), std::string::npos) << msg;
  EXPECT_NE(usage_error_of([&] { apply_set(c, "noequals"); }).find("key.path=value"),
            std::string::npos);
}

TEST(Config, TypeAndRangeErrorsNameThePath) {
  Config c;
  auto msg = usage_error_of([&] { apply_json_text(c, R"({"run": {"seed": "x"}})", "f"); });
  EXPECT_NE(msg.find("'run.seed': expected an integer, got a string"), std::string::npos) << msg;
  msg = usage_error_of([&] { apply_set(c, "run.threads=-1"); });
  EXPECT_NE(msg.find("'run.threads': value -1 is out of range"), std::string::npos) << msg;
  msg = usage_error_of([&] { apply_set(c, "run.threads=1.5"); });
  EXPECT_NE(msg.find("expected an integer"), std::string::npos) << msg;
  msg = usage_error_of([&] { apply_json_text(c, R"({"run": 3})", "f"); });
  EXPECT_NE(msg.find("'run': expected an object"), std::string::npos) << msg;
  msg = usage_error_of([&] { apply_json_text(c, "{not json", "f"); });
  EXPECT_NE(msg.find("invalid JSON"), std::string::npos) << msg;
}

TEST(Config, FailedDocumentLeavesConfigUnchanged) {
  Config c;
  EXPECT_THROW(apply_json_text(c, R"({"run": {"seed": 5, "bogus": 1}})", "f"), UsageError);
  EXPECT_EQ(c.run.seed, 0);
}

TEST(Config, StringsFromSetNeedNoQuotes) {
  Config c;
  apply_set(c, "run.device=cuda:1");
  EXPECT_EQ(c.run.device, "cuda:1");
}

TEST(Config, ShowMarksNonDefaults) {
  Config c;
  apply_set(c, "run.seed=9");
  const auto s = show(c, false);
  EXPECT_NE(s.find("run.seed = 9  [default: 0]"), std::string::npos) << s;
  EXPECT_NE(s.find("run.device = \"cpu\"\n"), std::string::npos) << s;
  EXPECT_EQ(diff(c), "run.seed = 9  [default: 0]\n");
  EXPECT_NE(show(c, true).find("source: ours"), std::string::npos);
}

TEST(Config, JsonRoundTripIsIdentity) {
  Config c;
  apply_set(c, "run.seed=123");
  apply_set(c, "data.image_size=64");
  Config back;
  apply_json_text(back, to_json(c), "roundtrip");
  EXPECT_EQ(to_json(back), to_json(c));
}

TEST(Config, PresetsParseAndRoundTrip) {
  const auto dir = testing::source_dir() / "configs";
  ASSERT_TRUE(fs::exists(dir)) << dir;
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".json") continue;
    SCOPED_TRACE(e.path().string());
    Config c;
    ASSERT_NO_THROW(apply_file(c, e.path()));
    Config back;
    apply_json_text(back, to_json(c), "roundtrip");
    EXPECT_EQ(to_json(back), to_json(c));
    ++n;
  }
  EXPECT_GE(n, 4) << "paper, reference, cpu-small and smoke presets expected";
}

TEST(Config, WritesResolvedConfigAndDiff) {
  testing::TempDir dir;
  Config c;
  apply_set(c, "run.seed=3");
  write_resolved(c, RunDir(dir.path()));
  EXPECT_TRUE(fs::exists(dir / "config.json"));
  EXPECT_EQ(read_file(dir / "config.diff.txt"), "run.seed = 3  [default: 0]\n");
}

}  // namespace cxrsynth::config
