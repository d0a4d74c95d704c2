// CSV (RFC 4180: comma-separated, double-quoted fields, "" for a quote, CRLF or LF) read
// into a header + rows table, and written back with minimal quoting. Every error names the
// file and the 1-based line of the record.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cxrsynth {

class CsvTable {
 public:
  CsvTable() = default;
  CsvTable(std::string source, std::vector<std::string> header,
           std::vector<std::vector<std::string>> rows, std::vector<std::size_t> row_lines);

  const std::string& source() const { return source_; }
  const std::vector<std::string>& header() const { return header_; }
  std::size_t size() const { return rows_.size(); }
  const std::vector<std::string>& row(std::size_t i) const { return rows_[i]; }
  // 1-based line in the file where row i starts (for error messages).
  std::size_t line_of(std::size_t i) const { return row_lines_[i]; }

  std::optional<std::size_t> find_column(std::string_view name) const;
  // Throws naming the file, the missing columns and the columns present.
  void require_columns(const std::vector<std::string>& names) const;
  std::size_t column(std::string_view name) const;

  const std::string& at(std::size_t row, std::string_view column) const;
  // Typed accessors: throw naming the file, line, column and bad value.
  std::int64_t get_int(std::size_t row, std::string_view column) const;
  double get_double(std::size_t row, std::string_view column) const;

  // "file:line" for messages about row i.
  std::string where(std::size_t row) const;

 private:
  std::string source_;
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
  std::vector<std::size_t> row_lines_;
};

// Parses CSV text. `source` names it in errors. Every record must have as many fields as the
// header. A UTF-8 BOM is skipped; blank lines at the end are ignored.
CsvTable parse_csv(std::string_view text, const std::string& source);
CsvTable read_csv(const std::filesystem::path& path);

// Quotes a field when it holds a comma, quote, CR or LF.
std::string csv_escape(std::string_view field);
std::string csv_line(const std::vector<std::string>& fields);  // with trailing '\n'

}  // namespace cxrsynth
