#include "core/csv.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/atomic_file.h"
#include "core/error.h"

namespace cxrsynth {

CsvTable::CsvTable(std::string source, std::vector<std::string> header,
                   std::vector<std::vector<std::string>> rows, std::vector<std::size_t> row_lines)
    : source_(std::move(source)),
      header_(std::move(header)),
      rows_(std::move(rows)),
      row_lines_(std::move(row_lines)) {}

std::optional<std::size_t> CsvTable::find_column(std::string_view name) const {
  for (std::size_t i = 0; i < header_.size(); ++i) {
    if (header_[i] == name) return i;
  }
  return std::nullopt;
}

void CsvTable::require_columns(const std::vector<std::string>& names) const {
  std::vector<std::string> missing;
  for (const auto& n : names) {
    if (!find_column(n)) missing.push_back(n);
  }
  if (!missing.empty()) {
    throw Error(fmt::format("{}: missing column(s) {}; the header has: {}", source_,
                            fmt::join(missing, ", "), fmt::join(header_, ", ")));
  }
}

std::size_t CsvTable::column(std::string_view name) const {
  auto c = find_column(name);
  if (!c) {
    throw Error(fmt::format("{}: missing column {}; the header has: {}", source_, name,
                            fmt::join(header_, ", ")));
  }
  return *c;
}

const std::string& CsvTable::at(std::size_t row, std::string_view name) const {
  return rows_.at(row)[column(name)];
}

std::string CsvTable::where(std::size_t row) const {
  return fmt::format("{}:{}", source_, row_lines_.at(row));
}

std::int64_t CsvTable::get_int(std::size_t row, std::string_view name) const {
  const std::string& s = at(row, name);
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    throw Error(fmt::format("{}: column {}: expected an integer, got '{}'", where(row), name, s));
  }
  return v;
}

double CsvTable::get_double(std::size_t row, std::string_view name) const {
  const std::string& s = at(row, name);
  char* end = nullptr;
  const double v = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !std::isfinite(v)) {
    throw Error(
        fmt::format("{}: column {}: expected a finite number, got '{}'", where(row), name, s));
  }
  return v;
}

CsvTable parse_csv(std::string_view text, const std::string& source) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF) {
    text.remove_prefix(3);
  }
  std::vector<std::vector<std::string>> records;
  std::vector<std::size_t> lines;
  std::vector<std::string> record;
  std::string field;
  std::size_t line = 1;
  std::size_t record_line = 1;
  bool in_quotes = false;
  bool field_was_quoted = false;
  bool record_has_content = false;

  auto end_field = [&] {
    record.push_back(std::move(field));
    field.clear();
    field_was_quoted = false;
  };
  auto end_record = [&] {
    end_field();
    const bool blank = record.size() == 1 && record[0].empty() && !record_has_content;
    if (!blank) {
      records.push_back(std::move(record));
      lines.push_back(record_line);
    }
    record.clear();
    record_has_content = false;
  };

  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        if (!field.empty() || field_was_quoted) {
          throw Error(
              fmt::format("{}:{}: malformed CSV: a quote inside an unquoted field", source, line));
        }
        in_quotes = true;
        field_was_quoted = true;
        record_has_content = true;
        break;
      case ',':
        end_field();
        record_has_content = true;
        break;
      case '\r':
        break;
      case '\n':
        end_record();
        ++line;
        record_line = line;
        break;
      default:
        if (field_was_quoted) {
          throw Error(
              fmt::format("{}:{}: malformed CSV: text after a closing quote", source, line));
        }
        field += c;
        record_has_content = true;
    }
  }
  if (in_quotes) {
    throw Error(
        fmt::format("{}:{}: malformed CSV: a quoted field is never closed", source, record_line));
  }
  if (!field.empty() || !record.empty() || record_has_content) end_record();

  if (records.empty()) throw Error(fmt::format("{}: empty CSV (no header)", source));
  std::vector<std::string> header = std::move(records.front());
  records.erase(records.begin());
  lines.erase(lines.begin());
  for (std::size_t r = 0; r < records.size(); ++r) {
    if (records[r].size() != header.size()) {
      throw Error(fmt::format("{}:{}: expected {} fields as in the header, found {}", source,
                              lines[r], header.size(), records[r].size()));
    }
  }
  return CsvTable(source, std::move(header), std::move(records), std::move(lines));
}

CsvTable read_csv(const std::filesystem::path& path) {
  return parse_csv(read_file(path), path.string());
}

std::string csv_escape(std::string_view field) {
  // A field starting with a UTF-8 byte-order mark is quoted too: unquoted at the start of a
  // file, the reader would skip the mark as the file's BOM.
  const bool starts_with_bom = field.size() >= 3 && field.substr(0, 3) == "\xEF\xBB\xBF";
  if (field.find_first_of(",\"\r\n") == std::string_view::npos && !starts_with_bom)
    return std::string(field);
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_line(const std::vector<std::string>& fields) {
  // A record of one empty field would be a blank line, which the reader skips: quote it.
  if (fields.size() == 1 && fields[0].empty()) return "\"\"\n";
  std::string out;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out += ',';
    out += csv_escape(fields[i]);
  }
  out += '\n';
  return out;
}

}  // namespace cxrsynth
