// The PHI check of the audit (docs/AUDIT.md): no synthetic output may carry protected health
// information. Checked for every file under R/synthetic/<task>/:
//   - image metadata: a PNG may hold only the pixel-data chunks of an allow-list (IHDR, PLTE,
//     IDAT, IEND, tRNS, gAMA, cHRM, sRGB, sBIT, pHYs, bKGD); text (tEXt, zTXt, iTXt), EXIF
//     (eXIf), time (tIME) or any other chunk fails. A DICOM output fails (its header carries
//     tags); a JPEG fails on any APP1-APP15 or COM segment; any other format fails;
//   - names: no output file name, and no cell of a manifest column other than the two
//     provenance columns, may contain a patient id or a source image id of R/data/manifest.csv
//     (matched case-insensitively as a whole token between non-alphanumeric characters; ids of
//     8 or more characters also inside a token);
//   - provenance: manifest.csv's source_id / source_patient_id columns (and the journal/ files)
//     link each output to its source patient by design (the classifier's patient-level splits
//     need it); they are reported as notes: share images without them.
// Torch-free.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "data/manifest.h"

namespace cxrsynth::audit {

namespace fs = std::filesystem;

struct PhiFinding {
  std::string item;    // path relative to the synthetic folder, or "manifest.csv:<column>"
  std::string check;   // image-metadata+name | name | manifest-column | provenance
  std::string status;  // pass | fail | note
  std::string detail;
};

struct PhiReport {
  std::vector<PhiFinding> findings;
  std::int64_t files_checked = 0, failures = 0, notes = 0;
  bool passed() const { return failures == 0; }
};

// The identifiers outputs must not carry.
class IdentifierMatcher {
 public:
  // Patient ids (source-qualified "cohen:19" and the part after the first ':') and image ids.
  explicit IdentifierMatcher(const std::vector<data::ManifestRow>& rows);
  // The first identifier found in `text`, if any.
  std::optional<std::string> find(const std::string& text) const;

 private:
  std::vector<std::string> ids_;  // lowercase
};

// Chunk types of a PNG file's bytes in order; throws Error naming `where` when malformed.
std::vector<std::string> png_chunk_types(const std::string& bytes, const std::string& where);
// The keyword of each tEXt/zTXt/iTXt chunk (for messages).
std::vector<std::string> png_text_keywords(const std::string& bytes);

// Problems with one output image file's metadata ("" when none).
std::string image_metadata_problems(const fs::path& file);

PhiReport check_phi(const fs::path& synthetic_dir, const std::vector<data::ManifestRow>& data_rows);

// Writes phi.csv: item, check, status, detail.
void write_phi_csv(const fs::path& path, const PhiReport& report);

}  // namespace cxrsynth::audit
