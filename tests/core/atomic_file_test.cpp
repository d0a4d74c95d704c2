#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>

#include "core/error.h"
#include "support/temp_dir.h"

namespace cxrsynth {

TEST(AtomicFile, WritesAndReplaces) {
  testing::TempDir dir;
  const auto p = dir / "sub/a.txt";
  write_file_atomic(p, "one");
  EXPECT_EQ(read_file(p), "one");
  write_file_atomic(p, "two");
  EXPECT_EQ(read_file(p), "two");
  // No temporary left behind.
  int files = 0;
  for (auto& e : fs::directory_iterator(p.parent_path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1);
}

TEST(AtomicFile, FailedWriterLeavesOldFile) {
  testing::TempDir dir;
  const auto p = dir / "model.ckpt";
  write_file_atomic(p, "good");
  EXPECT_THROW(write_file_atomic(p,
                                 [](std::ostream& out) {
                                   out << "partial";
                                   throw Error("simulated crash");
                                 }),
               Error);
  EXPECT_EQ(read_file(p), "good");
  int files = 0;
  for (auto& e : fs::directory_iterator(dir.path())) files += e.is_regular_file();
  EXPECT_EQ(files, 1) << "temporary file left behind";
}

TEST(AtomicFile, FullDiskIsAClearErrorAndKeepsOldFile) {
  // RLIMIT_FSIZE simulates a full disk: writes past the limit fail with EFBIG.
  testing::TempDir dir;
  const auto p = dir / "big.bin";
  write_file_atomic(p, "previous");
  std::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 4096;
  setrlimit(RLIMIT_FSIZE, &small);
  std::string message;
  try {
    write_file_atomic(p, std::string(1 << 20, 'z'));
  } catch (const Error& e) {
    message = e.full_message();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  EXPECT_NE(message.find(p.string()), std::string::npos) << message;
  EXPECT_EQ(read_file(p), "previous");
}

TEST(AtomicFile, ReplaceKeepsExtensionForFormatWriters) {
  testing::TempDir dir;
  const auto p = dir / "x.png";
  replace_file_atomic(p, [](const fs::path& tmp) {
    EXPECT_EQ(tmp.extension(), ".png");
    testing::write_text(tmp, "data");
  });
  EXPECT_EQ(read_file(p), "data");
}

TEST(AtomicFile, ReadMissingNamesPath) {
  try {
    read_file("/nonexistent/zzz.csv");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/zzz.csv"), std::string::npos);
  }
}

// A SIGKILL mid-write leaves ".<stem>.tmp<pid>-<n><ext>"; the next run removes those of dead
// processes only.
TEST(AtomicFile, RemovesOnlyStaleTempFilesOfDeadProcesses) {
  testing::TempDir dir;
  const std::string live = fmt::format(".checkpoint.tmp{}-3.pt", static_cast<long>(::getpid()));
  // Beyond any pid_max (2^22): no such process.
  for (const std::string name :
       {".checkpoint.tmp999999999-0.pt", ".model.tmp999999998-12", live.c_str(), ".hidden",
        "checkpoint.tmp999999999-0.pt", ".checkpoint.tmpx-0.pt", "checkpoint.pt"})
    write_file_atomic(dir / name, "x");
  EXPECT_EQ(remove_stale_temp_files(dir.path()), 2);
  for (const char* gone : {".checkpoint.tmp999999999-0.pt", ".model.tmp999999998-12"})
    EXPECT_FALSE(fs::exists(dir / gone)) << gone;
  for (const std::string kept : {live.c_str(), ".hidden", "checkpoint.tmp999999999-0.pt",
                                 ".checkpoint.tmpx-0.pt", "checkpoint.pt"})
    EXPECT_TRUE(fs::exists(dir / kept)) << kept;
  EXPECT_EQ(remove_stale_temp_files(dir / "missing"), 0);
}

}  // namespace cxrsynth
