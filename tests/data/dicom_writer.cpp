#include "data/dicom_writer.h"

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcrleerg.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmjpeg/djencode.h>
#include <dcmtk/dcmjpeg/djrplol.h>
#include <dcmtk/dcmjpeg/djrploss.h>
#include <dcmtk/dcmjpls/djencode.h>
#include <dcmtk/dcmjpls/djrparam.h>

#include <mutex>
#include <stdexcept>

namespace cxrsynth::testing {

void write_dicom(const std::filesystem::path& path, const DicomSpec& s) {
  static std::once_flag once;
  std::call_once(once, [] {
    DJEncoderRegistration::registerCodecs();
    DJLSEncoderRegistration::registerCodecs();
    DcmRLEEncoderRegistration::registerCodecs();
  });
  DcmFileFormat file;
  DcmDataset* ds = file.getDataset();
  char uid[100];
  ds->putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
  ds->putAndInsertString(DCM_SOPInstanceUID,
                         dcmGenerateUniqueIdentifier(uid, SITE_INSTANCE_UID_ROOT));
  ds->putAndInsertString(DCM_Modality, "CR");
  if (!s.view_position.empty()) ds->putAndInsertString(DCM_ViewPosition, s.view_position.c_str());
  ds->putAndInsertUint16(DCM_SamplesPerPixel, 1);
  ds->putAndInsertString(DCM_PhotometricInterpretation, s.photometric.c_str());
  ds->putAndInsertUint16(DCM_Rows, static_cast<Uint16>(s.height));
  ds->putAndInsertUint16(DCM_Columns, static_cast<Uint16>(s.width));
  const bool wide = s.bits_stored > 8;
  ds->putAndInsertUint16(DCM_BitsAllocated, wide ? 16 : 8);
  ds->putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(s.bits_stored));
  ds->putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(s.bits_stored - 1));
  ds->putAndInsertUint16(DCM_PixelRepresentation, 0);
  if (s.slope) ds->putAndInsertString(DCM_RescaleSlope, std::to_string(*s.slope).c_str());
  if (s.intercept)
    ds->putAndInsertString(DCM_RescaleIntercept, std::to_string(*s.intercept).c_str());
  if (s.window_center) {
    ds->putAndInsertString(DCM_WindowCenter, std::to_string(*s.window_center).c_str());
    ds->putAndInsertString(DCM_WindowWidth, std::to_string(*s.window_width).c_str());
  }
  if (static_cast<int>(s.pixels.size()) != s.width * s.height)
    throw std::runtime_error("write_dicom: pixel count mismatch");
  if (wide) {
    ds->putAndInsertUint16Array(DCM_PixelData, s.pixels.data(),
                                static_cast<unsigned long>(s.pixels.size()));
  } else {
    std::vector<Uint8> p(s.pixels.begin(), s.pixels.end());
    ds->putAndInsertUint8Array(DCM_PixelData, p.data(), static_cast<unsigned long>(p.size()));
  }
  E_TransferSyntax xfer = EXS_LittleEndianExplicit;
  OFCondition cond = EC_Normal;
  if (s.encoding == "jpeg-lossless") {
    xfer = EXS_JPEGProcess14SV1;
    DJ_RPLossless params;
    cond = ds->chooseRepresentation(xfer, &params);
  } else if (s.encoding == "jpeg-baseline") {
    xfer = EXS_JPEGProcess1;
    DJ_RPLossy params(95);
    cond = ds->chooseRepresentation(xfer, &params);
  } else if (s.encoding == "rle") {
    xfer = EXS_RLELossless;
    cond = ds->chooseRepresentation(xfer, nullptr);
  } else if (s.encoding == "jpeg-ls") {
    xfer = EXS_JPEGLSLossless;
    DJLSRepresentationParameter params;
    cond = ds->chooseRepresentation(xfer, &params);
  } else if (s.encoding != "uncompressed") {
    throw std::runtime_error("write_dicom: unknown encoding " + s.encoding);
  }
  if (cond.bad() || !ds->canWriteXfer(xfer))
    throw std::runtime_error(std::string("write_dicom: cannot encode: ") + cond.text());
  cond = file.saveFile(path.c_str(), xfer);
  if (cond.bad()) throw std::runtime_error(std::string("write_dicom: ") + cond.text());
}

}  // namespace cxrsynth::testing
