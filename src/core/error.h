// Errors with context. Library code throws; only main() catches and maps to exit codes.
//
// An Error carries a stack of context lines, innermost first as thrown, and prints them
// outermost first, one per line: what failed, where, the bad value, what was expected.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cxrsynth {

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message);

  // Adds an outer context line ("while reading manifest R/data/manifest.csv").
  Error& with_context(std::string line);

  // Outermost context first, then the original message.
  const std::vector<std::string>& lines() const { return lines_; }
  std::string full_message() const;

 private:
  std::vector<std::string> lines_;  // outermost first
};

// A usage or configuration error: the CLI exits with status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// Runs fn(); any exception leaving it gains `context` as an outer line. Non-cxrsynth
// exceptions (std, c10) are wrapped so their text is kept.
template <class Fn>
auto with_context(const std::string& context, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (Error& e) {
    e.with_context(context);
    throw;
  } catch (const std::exception& e) {
    Error wrapped(e.what());
    wrapped.with_context(context);
    throw wrapped;
  }
}

namespace detail {
[[noreturn]] void throw_check_failure(const char* file, int line, const char* condition,
                                      const std::string& message);
}  // namespace detail

}  // namespace cxrsynth

// CXRSYNTH_CHECK(cond, "fmt {}", args...): throws cxrsynth::Error naming the message.
// Use for invariants and input checks; never assert() on input.
#define CXRSYNTH_CHECK(cond, ...)                                          \
  do {                                                                     \
    if (!(cond)) {                                                         \
      ::cxrsynth::detail::throw_check_failure(__FILE__, __LINE__, #cond,   \
                                              ::fmt::format(__VA_ARGS__)); \
    }                                                                      \
  } while (false)
