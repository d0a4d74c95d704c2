#include "data/dicom.h"

#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcistrmb.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmimage/diregist.h>  // colour images in DicomImage
#include <dcmtk/dcmimgle/dcmimage.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <dcmtk/oflog/oflog.h>
#include <fmt/format.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <vector>

#include "core/error.h"
#include "data/jpeg_decode.h"

namespace cxrsynth::data {

void register_dicom_codecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK logs warnings to stderr by itself; failures reach the user through our errors.
    OFLog::configure(OFLogger::FATAL_LOG_LEVEL);
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

bool has_dicom_magic(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char buf[132];
  if (!in.read(buf, sizeof buf)) return false;
  return std::memcmp(buf + 128, "DICM", 4) == 0;
}

namespace {

std::string get_string(DcmDataset* ds, const DcmTagKey& tag) {
  OFString s;
  if (ds->findAndGetOFString(tag, s).good()) return std::string(s.c_str());
  return {};
}

// ---- fast path: 8-bit grey whose rendering is the stored values ---------------------------
//
// For an 8-bit MONOCHROME1/2 image without rescale, modality LUT, window or VOI LUT, the
// general path below (DicomImage) outputs the stored values unchanged (MONOCHROME1 is then
// inverted). Such files (all of RSNA's and NIH's) skip DicomImage, and their JPEG-baseline
// frames decode with libjpeg-turbo (SIMD) instead of DCMTK's bundled IJG 6b code (plain C): the
// same ISLOW integer IDCT, so the same pixels (tests/data/dicom_fast_path_test.cpp compares
// both paths). Anything unusual (other transfer syntaxes, several frames, decoder warnings,
// sizes that differ from the header) returns false and takes the general path, whose results
// and error messages are the reference.

std::atomic<std::uint64_t> fast_path_decodes{0};

bool has_tag(DcmDataset* ds, const DcmTagKey& tag) {
  return ds->tagExists(tag);
}

// The stored values of an 8-bit grey file whose rendering is the identity, or false.
bool decode_identity_gray8(DcmDataset* ds, E_TransferSyntax xfer, Uint16 rows, Uint16 columns,
                           cv::Mat& out) {
  Uint16 allocated = 0, stored = 0, high = 0, representation = 1, samples = 0;
  if (ds->findAndGetUint16(DCM_BitsAllocated, allocated).bad() || allocated != 8 ||
      ds->findAndGetUint16(DCM_BitsStored, stored).bad() || stored != 8 ||
      ds->findAndGetUint16(DCM_HighBit, high).bad() || high != 7 ||
      ds->findAndGetUint16(DCM_PixelRepresentation, representation).bad() || representation != 0 ||
      ds->findAndGetUint16(DCM_SamplesPerPixel, samples).bad() || samples != 1) {
    return false;
  }
  const std::string photometric = get_string(ds, DCM_PhotometricInterpretation);
  if (photometric != "MONOCHROME2" && photometric != "MONOCHROME1") return false;
  for (const DcmTagKey& tag :
       {DCM_ModalityLUTSequence, DCM_WindowCenter, DCM_WindowWidth, DCM_VOILUTSequence,
        DCM_PixelPaddingValue, DCM_NumberOfFrames, DCM_PresentationLUTSequence}) {
    if (has_tag(ds, tag)) return false;
  }
  for (const DcmTagKey& tag : {DCM_RescaleSlope, DCM_RescaleIntercept}) {
    if (!has_tag(ds, tag)) continue;
    Float64 v = 0;
    if (ds->findAndGetFloat64(tag, v).bad() || v != (tag == DCM_RescaleSlope ? 1.0 : 0.0)) {
      return false;
    }
  }
  DcmElement* element = nullptr;
  if (ds->findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) return false;
  auto* pixel_data = dynamic_cast<DcmPixelData*>(element);
  if (pixel_data == nullptr) return false;
  const std::size_t need = static_cast<std::size_t>(rows) * columns;
  if (xfer == EXS_LittleEndianImplicit || xfer == EXS_LittleEndianExplicit) {
    Uint8* bytes = nullptr;
    if (pixel_data->getUint8Array(bytes).bad() || bytes == nullptr ||
        pixel_data->getLength() < need) {
      return false;
    }
    cv::Mat(rows, columns, CV_8UC1, bytes).copyTo(out);
  } else if (xfer == EXS_JPEGProcess1) {
    DcmPixelSequence* sequence = nullptr;
    if (pixel_data->getEncapsulatedRepresentation(xfer, nullptr, sequence).bad() ||
        sequence == nullptr || sequence->card() < 2) {
      return false;
    }
    // Item 0 is the offset table; one frame, so every further fragment belongs to it.
    std::vector<std::uint8_t> joined;
    const std::uint8_t* frame = nullptr;
    std::size_t frame_size = 0;
    for (unsigned long i = 1; i < sequence->card(); ++i) {
      DcmPixelItem* item = nullptr;
      Uint8* bytes = nullptr;
      if (sequence->getItem(item, i).bad() || item == nullptr || item->getUint8Array(bytes).bad() ||
          (bytes == nullptr && item->getLength() > 0)) {
        return false;
      }
      if (sequence->card() == 2) {
        frame = bytes;
        frame_size = item->getLength();
      } else {
        joined.insert(joined.end(), bytes, bytes + item->getLength());
      }
    }
    if (frame == nullptr) {
      frame = joined.data();
      frame_size = joined.size();
    }
    if (!decode_jpeg_gray8(frame, frame_size, rows, columns, out)) return false;
  } else {
    return false;
  }
  if (photometric == "MONOCHROME1") cv::subtract(cv::Scalar::all(255.0), out, out);
  fast_path_decodes.fetch_add(1, std::memory_order_relaxed);
  return true;
}

}  // namespace

std::uint64_t dicom_fast_path_decodes() {
  return fast_path_decodes.load(std::memory_order_relaxed);
}

DecodedImage decode_dicom(const fs::path& path) {
  return decode_dicom(path, /*allow_fast_path=*/true, nullptr);
}

DecodedImage decode_dicom(const fs::path& path, bool allow_fast_path, const std::string* bytes) {
  register_dicom_codecs();
  const std::string name = path.string();
  std::unique_ptr<DcmFileFormat> file;
  if (bytes != nullptr) {
    if (bytes->empty()) {
      throw Error(fmt::format("{}: zero-byte file (expected a DICOM image)", name));
    }
    // Every element loaded now (no deferred reads: a buffer stream cannot be reopened).
    auto parsed = std::make_unique<DcmFileFormat>();
    DcmInputBufferStream stream;
    stream.setBuffer(bytes->data(), static_cast<offile_off_t>(bytes->size()));
    stream.setEos();
    parsed->transferInit();
    const OFCondition read =
        parsed->read(stream, EXS_Unknown, EGL_noChange, std::numeric_limits<Uint32>::max());
    parsed->transferEnd();
    if (read.good()) file = std::move(parsed);
  }
  OFCondition cond;
  if (!file) {
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) throw Error(fmt::format("{}: cannot read file: {}", name, ec.message()));
    if (size == 0) throw Error(fmt::format("{}: zero-byte file (expected a DICOM image)", name));
    file = std::make_unique<DcmFileFormat>();
    cond = file->loadFile(name.c_str());
    if (cond.bad()) {
      throw Error(fmt::format("{}: not a readable DICOM file (corrupt or truncated?): {}", name,
                              cond.text()));
    }
  }
  DcmDataset* ds = file->getDataset();
  if (!ds->tagExists(DCM_PixelData)) {
    throw Error(fmt::format("{}: DICOM file has no pixel data (PixelData missing)", name));
  }
  DecodedImage out;
  out.is_dicom = true;
  out.view = get_string(ds, DCM_ViewPosition);
  out.modality = get_string(ds, DCM_Modality);
  Uint16 bits_stored = 0;
  if (ds->findAndGetUint16(DCM_BitsStored, bits_stored).bad() || bits_stored == 0) {
    throw Error(fmt::format("{}: DICOM BitsStored missing or zero", name));
  }
  out.bit_depth = bits_stored;
  // Checked before DCMTK allocates the frame: Rows and Columns are 16-bit, so a corrupt header
  // could otherwise claim 65535 x 65535.
  Uint16 rows = 0, columns = 0;
  if (ds->findAndGetUint16(DCM_Rows, rows).bad() ||
      ds->findAndGetUint16(DCM_Columns, columns).bad()) {
    throw Error(fmt::format("{}: DICOM Rows or Columns missing", name));
  }
  check_image_dimensions(columns, rows, name, "DICOM Rows/Columns");

  const E_TransferSyntax xfer = ds->getOriginalXfer();
  if (allow_fast_path && decode_identity_gray8(ds, xfer, rows, columns, out.pixels)) {
    return out;
  }

  // Decompress to an uncompressed representation first so that an unsupported transfer
  // syntax (JPEG 2000 has no DCMTK decoder here) is reported as such.
  cond = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
  if (cond.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit)) {
    const DcmXfer x(xfer);
    throw Error(
        fmt::format("{}: cannot decode transfer syntax {} ({}): {}; supported: uncompressed, JPEG "
                    "baseline/extended/lossless, JPEG-LS, RLE",
                    name, x.getXferName(), x.getXferID(), cond.bad() ? cond.text() : "no decoder"));
  }

  // DCMTK pads missing pixel data with zeros (a warning only): refuse a first frame that the
  // (now uncompressed) PixelData cannot fill.
  {
    Uint16 allocated = 0, samples = 1;
    ds->findAndGetUint16(DCM_BitsAllocated, allocated);
    if (ds->findAndGetUint16(DCM_SamplesPerPixel, samples).bad() || samples == 0) samples = 1;
    DcmElement* pixel_data = nullptr;
    if (allocated > 0 && ds->findAndGetElement(DCM_PixelData, pixel_data).good() && pixel_data) {
      const unsigned long long need =
          (static_cast<unsigned long long>(rows) * columns * samples * allocated + 7) / 8;
      const unsigned long long have = pixel_data->getLength();
      if (have < need) {
        throw Error(fmt::format(
            "{}: DICOM pixel data holds {} bytes, but Rows {} x Columns {} x SamplesPerPixel {} "
            "at BitsAllocated {} need {} (truncated or corrupt file)",
            name, have, rows, columns, samples, allocated, need));
      }
    }
  }

  auto image = std::make_unique<DicomImage>(static_cast<DcmObject*>(file.get()),
                                            EXS_LittleEndianExplicit, 0UL, 0UL, 1UL);
  if (image->getStatus() != EIS_Normal) {
    // Name the attributes that usually explain it (an unknown photometric interpretation, odd
    // bit depths, too little pixel data).
    Uint16 allocated = 0, samples = 0;
    ds->findAndGetUint16(DCM_BitsAllocated, allocated);
    ds->findAndGetUint16(DCM_SamplesPerPixel, samples);
    throw Error(
        fmt::format("{}: cannot decode DICOM pixel data: {} (PhotometricInterpretation '{}', "
                    "SamplesPerPixel {}, BitsAllocated {}, BitsStored {}, Rows {}, Columns {})",
                    name, DicomImage::getString(image->getStatus()),
                    get_string(ds, DCM_PhotometricInterpretation), samples, allocated, bits_stored,
                    rows, columns));
  }
  if (!image->isMonochrome()) {
    // Luminance (0.299 R + 0.587 G + 0.114 B), as for colour PNG/JPEG.
    std::unique_ptr<DicomImage> mono(image->createMonochromeImage());
    if (!mono || mono->getStatus() != EIS_Normal) {
      throw Error(fmt::format("{}: cannot convert the colour DICOM to grey", name));
    }
    image = std::move(mono);
  }
  // Window (VOI) when the file has one; otherwise the full modality range, unstretched.
  if (image->getWindowCount() > 0) {
    image->setWindow(0);
  } else {
    image->setNoVoiTransformation();
  }
  // MONOCHROME1 (low values bright) is inverted here, exactly (max - v), after the VOI step;
  // DCMTK's own inverse shape rounds differently from every other reader by one grey level.
  const bool monochrome1 = image->getPhotometricInterpretation() == EPI_Monochrome1;
  image->setPresentationLutShape(ESP_Identity);
  const int out_bits = bits_stored > 8 ? 16 : 8;
  const int w = static_cast<int>(image->getWidth());
  const int h = static_cast<int>(image->getHeight());
  if (w <= 0 || h <= 0) throw Error(fmt::format("{}: DICOM image has no rows/columns", name));
  cv::Mat pixels(h, w, out_bits == 16 ? CV_16UC1 : CV_8UC1);
  const unsigned long out_size = static_cast<unsigned long>(pixels.total() * pixels.elemSize());
  if (!image->getOutputData(pixels.data, out_size, out_bits, 0, 0)) {
    throw Error(fmt::format("{}: cannot render DICOM pixel data ({})", name,
                            DicomImage::getString(image->getStatus())));
  }
  if (monochrome1) cv::subtract(cv::Scalar::all(out_bits == 16 ? 65535.0 : 255.0), pixels, pixels);
  out.pixels = pixels;
  return out;
}

}  // namespace cxrsynth::data
