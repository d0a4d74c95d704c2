#include "core/csv.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace cxrsynth {

TEST(Csv, ParsesQuotingAndLineEndings) {
  const auto t =
      parse_csv("a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"multi\nline\",\n", "t.csv");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t.at(0, "b"), "x, y");
  EXPECT_EQ(t.at(0, "c"), "say \"hi\"");
  EXPECT_EQ(t.at(1, "b"), "multi\nline");
  EXPECT_EQ(t.at(1, "c"), "");
  EXPECT_EQ(t.line_of(0), 2u);
  EXPECT_EQ(t.line_of(1), 3u);
  EXPECT_EQ(t.get_int(1, "a"), 2);
}

TEST(Csv, SkipsBomAndTrailingBlankLines) {
  const auto t = parse_csv("\xEF\xBB\xBFid\nx\n\n", "t.csv");
  EXPECT_EQ(t.header()[0], "id");
  EXPECT_EQ(t.size(), 1u);
}

TEST(Csv, RoundTripsThroughWriter) {
  const std::vector<std::string> row = {"plain", "with,comma", "with\"quote", "new\nline", ""};
  const auto t = parse_csv(csv_line({"a", "b", "c", "d", "e"}) + csv_line(row), "t");
  EXPECT_EQ(t.row(0), row);
}

void expect_error_mentions(const std::string& text, const std::string& needle) {
  try {
    const auto t = parse_csv(text, "bad.csv");
    t.get_int(0, "n");
    FAIL() << "no error for: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Csv, ErrorsNameFileLineAndProblem) {
  expect_error_mentions("n,m\n1,2\n3\n", "bad.csv:3: expected 2 fields");
  expect_error_mentions("n,m\n\"1,2\n", "never closed");
  expect_error_mentions("n,m\n1\"x,2\n", "bad.csv:2: malformed CSV");
  expect_error_mentions("n,m\nabc,2\n", "bad.csv:2: column n: expected an integer, got 'abc'");
  expect_error_mentions("", "empty CSV");
}

TEST(Csv, MissingColumnsListed) {
  const auto t = parse_csv("a,b\n1,2\n", "m.csv");
  try {
    t.require_columns({"a", "x", "y"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("x, y"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("a, b"), std::string::npos) << e.what();
  }
}

TEST(Csv, RejectsNonFiniteNumbers) {
  const auto t = parse_csv("v\nnan\n", "n.csv");
  EXPECT_THROW(t.get_double(0, "v"), Error);
}

}  // namespace cxrsynth
