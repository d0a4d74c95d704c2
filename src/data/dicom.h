// DICOM decoding through DCMTK (internal to the data module; use image_io.h).
#pragma once

#include <cstdint>
#include <string>

#include "data/image_io.h"

namespace cxrsynth::data {

// Registers DCMTK's JPEG, JPEG-LS and RLE decoders once per process (thread-safe).
void register_dicom_codecs();

// Decodes the first frame of a DICOM file; see decode_image_info for the grey-level rules.
DecodedImage decode_dicom(const fs::path& path);

// allow_fast_path false: always through DCMTK's decoders and DicomImage (tests compare the two;
// the fast path covers 8-bit grey files whose rendering is their stored values).
// bytes, when given: the file's content, already read (parsed from memory; `path` names errors;
// if DCMTK cannot parse it from memory, the file is loaded from `path` as without bytes).
DecodedImage decode_dicom(const fs::path& path, bool allow_fast_path,
                          const std::string* bytes = nullptr);

// How many files this process decoded through the fast path (for tests).
std::uint64_t dicom_fast_path_decodes();

// True when the file has the DICOM "DICM" magic at byte 128.
bool has_dicom_magic(const fs::path& path);

}  // namespace cxrsynth::data
