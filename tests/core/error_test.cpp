#include "core/error.h"

#include <gtest/gtest.h>

namespace cxrsynth {

TEST(Error, ContextLinesOutermostFirst) {
  try {
    with_context("while preparing run R", [] {
      with_context("reading metadata.csv", [] { CXRSYNTH_CHECK(1 + 1 == 3, "row {}: bad", 7); });
    });
    FAIL() << "no throw";
  } catch (const Error& e) {
    ASSERT_EQ(e.lines().size(), 3u);
    EXPECT_EQ(e.lines()[0], "while preparing run R");
    EXPECT_EQ(e.lines()[1], "reading metadata.csv");
    EXPECT_EQ(e.lines()[2], "row 7: bad");
  }
}

TEST(Error, WrapsStdExceptions) {
  try {
    with_context("ctx", []() -> int { throw std::out_of_range("boom"); });
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.full_message(), "ctx\nboom");
  }
}

TEST(Error, UsageErrorKeepsType) {
  try {
    with_context("ctx", [] { throw UsageError("bad key"); });
  } catch (const UsageError& e) {
    EXPECT_EQ(e.lines().size(), 2u);
    return;
  } catch (...) {
  }
  FAIL() << "UsageError lost its type";
}

}  // namespace cxrsynth
