#include "audit/phi_check.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <set>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"

namespace cxrsynth::audit {
namespace {

const char kPngSignature[] = "\x89PNG\r\n\x1a\n";

// Chunks that describe pixels only (PNG spec 1.2 sec. 4.1-4.2); anything else can hold text.
const std::set<std::string>& allowed_png_chunks() {
  static const std::set<std::string> s = {"IHDR", "PLTE", "IDAT", "IEND", "tRNS", "gAMA",
                                          "cHRM", "sRGB", "sBIT", "pHYs", "bKGD"};
  return s;
}

// Columns of a synthetic manifest that name the source image and patient by design.
const std::set<std::string>& provenance_columns() {
  static const std::set<std::string> s = {"source_id", "source_patient_id"};
  return s;
}

std::uint32_t be32(const std::string& b, std::size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.data() + pos);
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         p[3];
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool alnum_at(const std::string& s, std::size_t pos) {
  return pos < s.size() && std::isalnum(static_cast<unsigned char>(s[pos])) != 0;
}

bool is_png(const std::string& b) {
  return b.size() >= 8 && b.compare(0, 8, kPngSignature) == 0;
}

std::string png_problems(const std::string& bytes, const std::string& where) {
  std::vector<std::string> problems;
  try {
    std::set<std::string> reported;
    for (const auto& type : png_chunk_types(bytes, where)) {
      if (allowed_png_chunks().count(type) == 0 && reported.insert(type).second) {
        problems.push_back(fmt::format("PNG chunk {}", type));
      }
    }
    for (const auto& k : png_text_keywords(bytes)) problems.push_back(fmt::format("text '{}'", k));
  } catch (const Error& e) {
    problems.push_back(fmt::format("malformed PNG ({})", e.what()));
  }
  return fmt::format("{}", fmt::join(problems, "; "));
}

std::string jpeg_problems(const std::string& b) {
  std::vector<std::string> problems;
  std::size_t pos = 2;
  while (pos + 4 <= b.size()) {
    const auto m0 = static_cast<unsigned char>(b[pos]);
    const auto marker = static_cast<unsigned char>(b[pos + 1]);
    if (m0 != 0xFF) {
      problems.push_back(fmt::format("malformed JPEG segment at byte {}", pos));
      break;
    }
    if (marker == 0xDA || marker == 0xD9) break;  // start of scan / end of image
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01 || marker == 0xFF) {
      pos += marker == 0xFF ? 1 : 2;
      continue;
    }
    const std::size_t len = (std::size_t{static_cast<unsigned char>(b[pos + 2])} << 8) |
                            static_cast<unsigned char>(b[pos + 3]);
    if (marker >= 0xE1 && marker <= 0xEF) {
      problems.push_back(
          fmt::format("JPEG APP{} segment (EXIF/XMP/vendor metadata)", marker - 0xE0));
    }
    if (marker == 0xFE) problems.push_back("JPEG COM (comment) segment");
    pos += 2 + len;
  }
  return fmt::format("{}", fmt::join(problems, "; "));
}

std::vector<fs::path> files_under(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) files.push_back(e.path());
  }
  std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
    return a.generic_string() < b.generic_string();
  });
  return files;
}

void add(PhiReport& r, PhiFinding f) {
  if (f.status == "fail") ++r.failures;
  if (f.status == "note") ++r.notes;
  r.findings.push_back(std::move(f));
}

void check_manifest(PhiReport& report, const fs::path& file, const IdentifierMatcher& matcher) {
  const auto table = read_csv(file);
  for (std::size_t c = 0; c < table.header().size(); ++c) {
    const auto& column = table.header()[c];
    PhiFinding f{"manifest.csv:" + column, "manifest-column", "pass", ""};
    if (provenance_columns().count(column) != 0) {
      f.check = "provenance";
      f.status = "note";
      f.detail =
          "links each output to its source image and patient by design (patient-level splits "
          "need it); keep manifest.csv and journal/ with the run and share the images without "
          "them";
    } else {
      for (std::size_t i = 0; i < table.size(); ++i) {
        if (const auto id = matcher.find(table.row(i)[c])) {
          f.status = "fail";
          f.detail = fmt::format("{}: '{}' contains the identifier '{}'", table.where(i),
                                 table.row(i)[c], *id);
          break;
        }
      }
    }
    add(report, std::move(f));
  }
}

}  // namespace

IdentifierMatcher::IdentifierMatcher(const std::vector<data::ManifestRow>& rows) {
  std::set<std::string> ids;
  for (const auto& r : rows) {
    if (!r.patient_id.empty()) {
      ids.insert(lower(r.patient_id));
      const auto colon = r.patient_id.find(':');
      if (colon != std::string::npos && colon + 1 < r.patient_id.size()) {
        ids.insert(lower(r.patient_id.substr(colon + 1)));
      }
    }
    if (!r.id.empty()) ids.insert(lower(r.id));
  }
  ids_.assign(ids.begin(), ids.end());
}

std::optional<std::string> IdentifierMatcher::find(const std::string& text) const {
  const std::string t = lower(text);
  for (const auto& id : ids_) {
    for (auto pos = t.find(id); pos != std::string::npos; pos = t.find(id, pos + 1)) {
      // Short ids ("19") only as whole tokens, so "gnc-000019" does not match patient 19.
      const bool whole = (pos == 0 || !alnum_at(t, pos - 1)) && !alnum_at(t, pos + id.size());
      if (id.size() >= 8 || whole) return id;
    }
  }
  return std::nullopt;
}

std::vector<std::string> png_chunk_types(const std::string& bytes, const std::string& where) {
  if (!is_png(bytes)) throw Error(fmt::format("{}: not a PNG (bad signature)", where));
  std::vector<std::string> types;
  std::size_t pos = 8;
  while (true) {
    if (pos + 12 > bytes.size()) {
      throw Error(
          fmt::format("{}: truncated PNG: no IEND chunk (chunk header at byte {})", where, pos));
    }
    const std::size_t len = be32(bytes, pos);
    if (len > bytes.size() - pos - 12) {
      throw Error(fmt::format("{}: truncated PNG chunk '{}' at byte {} ({} bytes declared)", where,
                              bytes.substr(pos + 4, 4), pos, len));
    }
    types.push_back(bytes.substr(pos + 4, 4));
    pos += 12 + len;
    if (types.back() == "IEND") break;
  }
  if (pos != bytes.size()) {
    throw Error(fmt::format("{}: {} bytes after the IEND chunk (data hidden after the image)",
                            where, bytes.size() - pos));
  }
  return types;
}

std::vector<std::string> png_text_keywords(const std::string& bytes) {
  std::vector<std::string> out;
  if (!is_png(bytes)) return out;
  std::size_t pos = 8;
  while (pos + 12 <= bytes.size()) {
    const std::size_t len = be32(bytes, pos);
    if (len > bytes.size() - pos - 12) break;
    const auto type = bytes.substr(pos + 4, 4);
    if (type == "tEXt" || type == "zTXt" || type == "iTXt") {
      const auto data = bytes.substr(pos + 8, len);
      out.push_back(type + " " + data.substr(0, std::min<std::size_t>(data.find('\0'), 79)));
    }
    pos += 12 + len;
  }
  return out;
}

std::string image_metadata_problems(const fs::path& file) {
  const std::string bytes = read_file(file);
  if (is_png(bytes)) return png_problems(bytes, file.string());
  const bool dicom = (bytes.size() >= 132 && bytes.compare(128, 4, "DICM") == 0) ||
                     lower(file.extension().string()) == ".dcm";
  if (dicom) return "DICOM file: its header carries tags that can hold PHI (outputs must be PNG)";
  if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
      static_cast<unsigned char>(bytes[1]) == 0xD8) {
    return jpeg_problems(bytes);
  }
  return "not a PNG, JPEG or DICOM file: its content cannot be checked";
}

PhiReport check_phi(const fs::path& synthetic_dir,
                    const std::vector<data::ManifestRow>& data_rows) {
  if (!fs::is_directory(synthetic_dir)) {
    throw Error(fmt::format("PHI check: {} is not a directory", synthetic_dir.string()));
  }
  const IdentifierMatcher matcher(data_rows);
  PhiReport report;
  for (const auto& file : files_under(synthetic_dir)) {
    const auto rel = fs::relative(file, synthetic_dir).generic_string();
    ++report.files_checked;
    if (rel == "manifest.csv") {
      check_manifest(report, file, matcher);
      continue;
    }
    if (rel.rfind("journal/", 0) == 0) {
      add(report, {rel, "provenance", "note",
                   "synthesis journal: source ids and patient ids, like manifest.csv"});
      continue;
    }
    std::vector<std::string> problems;
    if (const auto id = matcher.find(file.filename().string())) {
      problems.push_back(fmt::format("file name contains the identifier '{}'", *id));
    }
    if (rel.rfind("images/", 0) == 0) {
      const auto meta = image_metadata_problems(file);
      if (!meta.empty()) problems.insert(problems.begin(), meta);
      add(report, {rel, "image-metadata+name", problems.empty() ? "pass" : "fail",
                   fmt::format("{}", fmt::join(problems, "; "))});
    } else {
      add(report, {rel, "name", problems.empty() ? "note" : "fail",
                   problems.empty() ? "not an output image (content not checked)"
                                    : fmt::format("{}", fmt::join(problems, "; "))});
    }
  }
  return report;
}

void write_phi_csv(const fs::path& path, const PhiReport& report) {
  std::string text = csv_line({"item", "check", "status", "detail"});
  for (const auto& f : report.findings) text += csv_line({f.item, f.check, f.status, f.detail});
  write_file_atomic(path, text);
}

}  // namespace cxrsynth::audit
