#include "config/config_io.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cxrsynth::config {
namespace {

using Json = nlohmann::ordered_json;

std::string join_path(const std::string& prefix, const char* key) {
  return prefix.empty() ? std::string(key) : prefix + "." + key;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string type_name(const Json& j) {
  if (j.is_boolean()) return "a boolean";
  if (j.is_number_integer() || j.is_number_unsigned()) return "an integer";
  if (j.is_number()) return "a number";
  if (j.is_string()) return "a string";
  if (j.is_array()) return "a list";
  if (j.is_object()) return "an object";
  return "null";
}

[[noreturn]] void type_error(const std::string& origin, const std::string& path,
                             const char* expected, const Json& got) {
  throw UsageError(fmt::format("{}: config key '{}': expected {}, got {} ({})", origin, path,
                               expected, type_name(got), got.dump()));
}

void check_range(const std::string& origin, const std::string& path, double v, const Doc& doc) {
  if (v < doc.lo || v > doc.hi) {
    throw UsageError(fmt::format("{}: config key '{}': value {} is out of range [{}, {}]", origin,
                                 path, v, doc.lo, doc.hi));
  }
}

void check_choice(const std::string& origin, const std::string& path, const std::string& v,
                  const Doc& doc) {
  if (doc.choices.empty()) return;
  for (const auto& c : doc.choices) {
    if (c == v) return;
  }
  throw UsageError(fmt::format("{}: config key '{}': '{}' is not one of: {}", origin, path, v,
                               fmt::join(doc.choices, ", ")));
}

// Converts one JSON value into a field, validating type, range and choices.
template <class T>
void read_value(const std::string& origin, const std::string& path, const Json& j, T& out,
                const Doc& doc) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) type_error(origin, path, "a boolean (true/false)", j);
    out = j.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    // nlohmann's get<int> wraps silently (4294967297 -> 1) and a double beyond the type is
    // undefined behaviour to convert: check against the field's type first.
    using Lim = std::numeric_limits<T>;
    auto too_big = [&] {
      throw UsageError(fmt::format("{}: config key '{}': value {} does not fit a {}-bit integer",
                                   origin, path, j.dump(), sizeof(T) * 8));
    };
    if (j.is_number_unsigned()) {
      const auto v = j.get<std::uint64_t>();
      if (v > static_cast<std::uint64_t>(Lim::max())) too_big();
      out = static_cast<T>(v);
    } else if (j.is_number_integer()) {
      const auto v = j.get<std::int64_t>();
      if (v < static_cast<std::int64_t>(Lim::min()) || v > static_cast<std::int64_t>(Lim::max()))
        too_big();
      out = static_cast<T>(v);
    } else if (j.is_number_float() && std::floor(j.get<double>()) == j.get<double>()) {
      // Accept 3.0 but not 3.5.
      const double d = j.get<double>();
      if (!(d >= static_cast<double>(Lim::min()) && d < static_cast<double>(Lim::max()) + 1.0))
        too_big();
      out = static_cast<T>(d);
    } else {
      type_error(origin, path, "an integer", j);
    }
    check_range(origin, path, static_cast<double>(out), doc);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) type_error(origin, path, "a number", j);
    out = j.get<T>();
    if (!std::isfinite(out)) type_error(origin, path, "a finite number", j);
    check_range(origin, path, static_cast<double>(out), doc);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) type_error(origin, path, "a string", j);
    out = j.get<std::string>();
    check_choice(origin, path, out, doc);
  } else {
    using E = typename T::value_type;
    if (!j.is_array()) type_error(origin, path, "a list", j);
    T values;
    for (std::size_t i = 0; i < j.size(); ++i) {
      E e{};
      read_value(origin, fmt::format("{}[{}]", path, i), j[i], e, doc);
      values.push_back(std::move(e));
    }
    out = std::move(values);
  }
}

// Applies a JSON object onto an Options struct strictly.
class Applier {
 public:
  Applier(const Json& object, std::string path, std::string origin)
      : object_(object), path_(std::move(path)), origin_(std::move(origin)) {}

  template <class T>
  void field(const char* key, T& value, const Doc& doc) {
    seen_.emplace_back(key);
    auto it = object_.find(key);
    if (it == object_.end()) return;
    read_value(origin_, join_path(path_, key), *it, value, doc);
  }

  template <class S>
  void section(const char* key, S& sub) {
    seen_.emplace_back(key);
    auto it = object_.find(key);
    if (it == object_.end()) return;
    const std::string path = join_path(path_, key);
    if (!it->is_object()) type_error(origin_, path, "an object", *it);
    Applier child(*it, path, origin_);
    visit_fields(child, sub);
    child.check_unknown();
  }

  void check_unknown() const {
    for (auto it = object_.begin(); it != object_.end(); ++it) {
      bool known = false;
      for (const auto& s : seen_) known = known || s == it.key();
      if (known) continue;
      std::string best;
      std::size_t best_d = 3;  // suggest only close misspellings
      for (const auto& s : seen_) {
        const std::size_t d = edit_distance(it.key(), s);
        if (d < best_d) {
          best_d = d;
          best = s;
        }
      }
      throw UsageError(fmt::format("{}: unknown config key '{}'{}; valid keys at '{}': {}", origin_,
                                   join_path(path_, it.key().c_str()),
                                   best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best),
                                   path_.empty() ? "<top level>" : path_, fmt::join(seen_, ", ")));
    }
  }

 private:
  const Json& object_;
  std::string path_;
  std::string origin_;
  std::vector<std::string> seen_;
};

template <class T>
Json to_json_value(const T& v) {
  return Json(v);
}

// Writes an Options struct as ordered JSON.
class Writer {
 public:
  explicit Writer(Json& out) : out_(out) {}
  template <class T>
  void field(const char* key, T& value, const Doc&) {
    out_[key] = to_json_value(value);
  }
  template <class S>
  void section(const char* key, S& sub) {
    Json child = Json::object();
    Writer w(child);
    visit_fields(w, sub);
    out_[key] = std::move(child);
  }

 private:
  Json& out_;
};

struct Leaf {
  std::string path;
  Json value;
  std::string doc;
  std::string source;
  bool is_string = false;
  bool is_string_list = false;
};

// Flattens an Options struct into leaves with their docs.
class Flattener {
 public:
  Flattener(std::vector<Leaf>& out, std::string prefix) : out_(out), prefix_(std::move(prefix)) {}
  template <class T>
  void field(const char* key, T& value, const Doc& doc) {
    Leaf leaf{join_path(prefix_, key), to_json_value(value), doc.text, doc.source};
    leaf.is_string = std::is_same_v<T, std::string>;
    leaf.is_string_list = std::is_same_v<T, std::vector<std::string>>;
    out_.push_back(std::move(leaf));
  }
  template <class S>
  void section(const char* key, S& sub) {
    Flattener child(out_, join_path(prefix_, key));
    visit_fields(child, sub);
  }

 private:
  std::vector<Leaf>& out_;
  std::string prefix_;
};

std::vector<Leaf> flatten(const Config& cfg) {
  std::vector<Leaf> leaves;
  Config copy = cfg;  // visit_fields takes non-const refs (one protocol for read and write)
  Flattener f(leaves, "");
  visit_fields(f, copy);
  return leaves;
}

Json parse_json(const std::string& text, const std::string& origin) {
  try {
    return Json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
    throw UsageError(fmt::format("{}: invalid JSON: {}", origin, e.what()));
  }
}

std::string show_value(const Json& j) {
  return j.dump();
}

}  // namespace

void apply_json_text(Config& cfg, const std::string& json_text, const std::string& origin) {
  const Json root = parse_json(json_text, origin);
  if (!root.is_object()) {
    throw UsageError(
        fmt::format("{}: a config must be a JSON object, got {}", origin, type_name(root)));
  }
  Config updated = cfg;  // all-or-nothing: a bad document leaves cfg unchanged
  Applier a(root, "", origin);
  visit_fields(a, updated);
  a.check_unknown();
  cfg = std::move(updated);
}

void apply_file(Config& cfg, const std::filesystem::path& path) {
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw UsageError(fmt::format("cannot read config file: {}", e.what()));
  }
  apply_json_text(cfg, text, path.string());
}

namespace {

// Position of the first byte that is not valid UTF-8, or npos. JSON (and so config.json) holds
// UTF-8 only; nlohmann would throw a type_error later, while writing config.json.
std::size_t invalid_utf8_at(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return i;
    }
    if (i + n >= s.size()) return i;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, surrogates, beyond U+10FFFF.
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += n + 1;
  }
  return std::string::npos;
}

}  // namespace

void apply_set(Config& cfg, const std::string& assignment) {
  if (const auto bad = invalid_utf8_at(assignment); bad != std::string::npos) {
    throw UsageError(fmt::format(
        "--set: the assignment is not valid UTF-8 (byte 0x{:02X} at position {}); config "
        "values are JSON text",
        static_cast<unsigned>(static_cast<unsigned char>(assignment[bad])), bad));
  }
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw UsageError(
        fmt::format("--set '{}': expected key.path=value (e.g. gan.lambda_cycle=5)", assignment));
  }
  const std::string key = assignment.substr(0, eq);
  const std::string raw = assignment.substr(eq + 1);

  // The target's type decides how the raw text is read: strings are taken verbatim, so
  // `--set data.view_filter=frontal` needs no JSON quotes.
  const Leaf* target = nullptr;
  const auto leaves = flatten(cfg);
  for (const auto& l : leaves) {
    if (l.path == key) target = &l;
  }
  Json value;
  if (target && target->is_string) {
    value = raw;
  } else if (target && target->is_string_list && (raw.empty() || raw.front() != '[')) {
    value = Json::array();
    std::size_t start = 0;
    while (!raw.empty() && start <= raw.size()) {
      const auto comma = raw.find(',', start);
      value.push_back(
          raw.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    try {
      value = Json::parse(raw);
    } catch (const nlohmann::json::exception&) {  // parse_error, or out_of_range for 1e999
      value = raw;                                // the type check then names the expected type
    }
  }
  // Nest the value under its path; unknown keys are then reported exactly as in files.
  Json doc = value;
  std::string rest = key;
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = rest.find('.', start);
    parts.push_back(rest.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (it->empty()) throw UsageError(fmt::format("--set '{}': empty key segment", assignment));
    Json wrapper = Json::object();
    wrapper[*it] = std::move(doc);
    doc = std::move(wrapper);
  }
  apply_json_text(cfg, doc.dump(), fmt::format("--set {}", key));
}

Config load(const std::vector<std::string>& files, const std::vector<std::string>& sets) {
  Config cfg;
  for (const auto& f : files) apply_file(cfg, f);
  for (const auto& s : sets) apply_set(cfg, s);
  return cfg;
}

std::string to_json(const Config& cfg) {
  Json out = Json::object();
  Config copy = cfg;
  Writer w(out);
  visit_fields(w, copy);
  return out.dump(2) + "\n";
}

std::string show(const Config& cfg, bool with_docs) {
  const auto leaves = flatten(cfg);
  const auto defaults = flatten(Config{});
  std::size_t width = 0;
  for (const auto& l : leaves) {
    width = std::max(width, l.path.size() + 3 + show_value(l.value).size());
  }
  std::string out;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    const auto& l = leaves[i];
    std::string line = fmt::format("{} = {}", l.path, show_value(l.value));
    if (l.value != defaults[i].value) {
      line += fmt::format("  [default: {}]", show_value(defaults[i].value));
    }
    if (with_docs) {
      line = fmt::format("{:<{}}  # {} (source: {})", line, width + 2, l.doc, l.source);
    }
    out += line + "\n";
  }
  return out;
}

std::string diff(const Config& cfg) {
  const auto leaves = flatten(cfg);
  const auto defaults = flatten(Config{});
  std::string out;
  for (std::size_t i = 0; i < leaves.size(); ++i) {
    if (leaves[i].value != defaults[i].value) {
      out += fmt::format("{} = {}  [default: {}]\n", leaves[i].path, show_value(leaves[i].value),
                         show_value(defaults[i].value));
    }
  }
  return out.empty() ? "(all defaults)\n" : out;
}

void write_resolved(const Config& cfg, const RunDir& run_dir) {
  write_file_atomic(run_dir.config_json(), to_json(cfg));
  write_file_atomic(run_dir.config_diff(), diff(cfg));
}

std::string section_json(const Config& cfg, const std::string& section) {
  const Json all = Json::parse(to_json(cfg));
  auto it = all.find(section);
  CXRSYNTH_CHECK(it != all.end(), "no config section '{}'", section);
  return it->dump();
}

}  // namespace cxrsynth::config
