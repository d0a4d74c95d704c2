#include "core/error.h"

namespace cxrsynth {

Error::Error(std::string message) : std::runtime_error(message) {
  lines_.push_back(std::move(message));
}

Error& Error::with_context(std::string line) {
  lines_.insert(lines_.begin(), std::move(line));
  return *this;
}

std::string Error::full_message() const {
  std::string out;
  for (const auto& l : lines_) {
    if (!out.empty()) out += '\n';
    out += l;
  }
  return out;
}

namespace detail {
void throw_check_failure(const char* /*file*/, int /*line*/, const char* /*condition*/,
                         const std::string& message) {
  // The message is written for the user; file/line would only be noise for them.
  throw Error(message);
}
}  // namespace detail

}  // namespace cxrsynth
