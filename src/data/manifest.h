// The data manifest R/data/manifest.csv: one row per prepared image; the only way later stages
// learn about the data. One reader, one writer.
//
// Schema (CSV with a header, columns in this order; written by write_manifest):
//   id             unique, filesystem-safe image id ("rsna-0004cfab-...", "cohen-000001-12")
//   source         the reader that produced the row: cohen | rsna | folder | phantom | <name>
//   patient_id     source-qualified patient id ("cohen:19", "rsna:0004cfab-..."); images of one
//                  patient never share two splits
//   label          normal | pneumonia | covid
//   subtype        finer finding ("bacterial", "viral", "COVID-19", RSNA class ...), may be empty
//   view           acquisition view as the source gives it (PA, AP, AP Supine, L ...), may be empty
//   split          train | val | test
//   original_path  the source file as read (configured root joined with the relative path;
//                  phantom images, generated into R/data/phantom/, relative to R/data/)
//   path           the stored image, relative to R/data/ ("images/<id>.png"): single-channel
//                  PNG of image_size x image_size, 16-bit when bit_depth > 8, else 8-bit
//   width, height  size of the original image in pixels
//   bit_depth      bits per sample of the original (8, 16; DICOM: BitsStored)
//   sha256         SHA-256 (lowercase hex) of the original file's bytes
//   gan_tasks      ';'-joined task names (data/tasks.h) whose undersampled GAN training subset
//                  holds this row (train split only); empty otherwise
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace cxrsynth::data {

namespace fs = std::filesystem;

struct ManifestRow {
  std::string id, source, patient_id, label, subtype, view, split, original_path, path;
  int width = 0, height = 0, bit_depth = 0;
  std::string sha256, gan_tasks;
};

// The column names, in order.
const std::vector<std::string>& manifest_columns();

// Reads and validates a manifest: required columns, integer fields, labels, splits, unique
// ids, and that no patient_id appears in two splits (refusing with the offending ids). Every
// error names the file and line.
std::vector<ManifestRow> read_manifest(const fs::path& path);

// Writes atomically (the previous file stays intact on failure). Validates like read_manifest
// first, so a manifest that could not be read back is never written.
void write_manifest(const fs::path& path, const std::vector<ManifestRow>& rows);

// Throws Error naming up to 10 patient ids found in more than one split (and their splits).
// `where` names the manifest in the message.
void check_no_patient_overlap(const std::vector<ManifestRow>& rows, const std::string& where);

// Splits a gan_tasks cell into task names (empty cell -> empty list).
std::vector<std::string> split_gan_tasks(const std::string& cell);
bool in_gan_task(const ManifestRow& row, const std::string& task);

// Absolute path of a row's stored image, given the run's data directory (RunDir::data_dir()).
inline fs::path image_path(const fs::path& data_dir, const ManifestRow& row) {
  return data_dir / row.path;
}

}  // namespace cxrsynth::data
