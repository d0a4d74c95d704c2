// Fuzz target: the CSV reader (core/csv.h) and the data-manifest reader (data/manifest.h).
// Every parsed table has each cell read through the typed accessors; the same bytes are then
// read as R/data/manifest.csv (columns, integers, labels, splits, unique ids, patient leakage).
// Only cxrsynth::Error may escape the code under test.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/csv.h"
#include "core/error.h"
#include "data/manifest.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cxrsynth;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const CsvTable t = parse_csv(text, "fuzz.csv");
    for (std::size_t r = 0; r < t.size(); ++r) {
      for (const auto& col : t.header()) {
        try {
          (void)t.get_int(r, col);
        } catch (const Error&) {
        }
        try {
          (void)t.get_double(r, col);
        } catch (const Error&) {
        }
      }
      (void)t.where(r);
    }
    // Round trip: what csv_line writes parses back to the same cells.
    std::string again = csv_line(t.header());
    for (std::size_t r = 0; r < t.size(); ++r) again += csv_line(t.row(r));
    const CsvTable back = parse_csv(again, "fuzz-roundtrip.csv");
    if (back.size() != t.size() || back.header() != t.header()) __builtin_trap();
    for (std::size_t r = 0; r < t.size(); ++r) {
      if (back.row(r) != t.row(r)) __builtin_trap();
    }
  } catch (const Error&) {
  }
  try {
    const auto rows = data::read_manifest(fuzz::write_scratch("manifest.csv", data, size));
    // A manifest that was read can be written back and reads back the same.
    const auto out = fuzz::scratch_dir() / "manifest-out.csv";
    data::write_manifest(out, rows);
    if (data::read_manifest(out).size() != rows.size()) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
