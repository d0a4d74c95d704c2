#include "data/sources.h"

#include <algorithm>
#include <cctype>

namespace cxrsynth::data {

void SourceResult::count(const std::string& filter, std::int64_t n) {
  for (auto& [name, c] : filtered) {
    if (name == filter) {
      c += n;
      return;
    }
  }
  filtered.emplace_back(filter, n);
}

std::string normalise_label(const std::string& text) {
  std::string s;
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (s == "normal" || s == "nofinding") return "normal";
  if (s == "pneumonia") return "pneumonia";
  if (s == "covid" || s == "covid19") return "covid";
  return {};
}

std::string safe_id(const std::string& text) {
  std::string out = text;
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (!(std::isalnum(u) || c == '.' || c == '_' || c == '-')) c = '_';
  }
  return out;
}

}  // namespace cxrsynth::data
