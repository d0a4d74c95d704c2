// DICOM decoding through DCMTK (internal to the data module; use image_io.h).
#pragma once

#include "data/image_io.h"

namespace cxrsynth::data {

// Registers DCMTK's JPEG, JPEG-LS and RLE decoders once per process (thread-safe).
void register_dicom_codecs();

// Decodes the first frame of a DICOM file; see decode_image_info for the grey-level rules.
DecodedImage decode_dicom(const fs::path& path);

// True when the file has the DICOM "DICM" magic at byte 128.
bool has_dicom_magic(const fs::path& path);

}  // namespace cxrsynth::data
