// The bad-input corpus (issue #10 item 2): hostile or broken PNG, JPEG, DICOM, CSV, manifest and
// config inputs, one table row each. Every case must end in a cxrsynth::Error whose message
// names the item (file, row, key) and says what is wrong (the expected substrings); a crash, a
// hang, a huge allocation, a foreign exception or a vague message fails the test. The inputs
// are generated here (tiny), except the committed files under tests/corpus/files/.
//
// The prepare cases also check that nothing already written is lost: each runs on a run
// directory holding a good prepare, whose manifest, summary, rejected list and images must be
// byte-identical after the failed prepare.
#include <dcmtk/config/osconfig.h>  // must come first
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <gtest/gtest.h>

#include <functional>
#include <iostream>
#include <map>
#include <opencv2/imgcodecs.hpp>

#include "config/config_io.h"
#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "data/dicom_writer.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/prepare.h"
#include "support/temp_dir.h"

namespace cxrsynth {
namespace {

namespace fs = std::filesystem;
using testing::message_of;
using testing::TempDir;

// ---------------------------------------------------------------- byte builders

std::string png_bytes(const cv::Mat& m) {
  std::vector<unsigned char> buf;
  EXPECT_TRUE(cv::imencode(".png", m, buf));
  return std::string(buf.begin(), buf.end());
}

std::string jpeg_bytes(const cv::Mat& m) {
  std::vector<unsigned char> buf;
  EXPECT_TRUE(cv::imencode(".jpg", m, buf));
  return std::string(buf.begin(), buf.end());
}

cv::Mat gray(int w, int h, int type = CV_8UC1) {
  cv::Mat m(h, w, type);
  cv::randu(m, 0, type == CV_16UC1 ? 65535 : 255);
  return m;
}

std::uint32_t crc32(const std::string& bytes) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

std::string png_chunk(const std::string& type, const std::string& data) {
  return be32(static_cast<std::uint32_t>(data.size())) + type + data + be32(crc32(type + data));
}

// A syntactically valid PNG whose IHDR declares width x height (and a tiny IDAT).
std::string png_with_header(std::uint32_t w, std::uint32_t h, int bit_depth = 8,
                            int colour_type = 0) {
  std::string ihdr = be32(w) + be32(h);
  ihdr += static_cast<char>(bit_depth);
  ihdr += static_cast<char>(colour_type);
  ihdr += std::string(3, '\0');
  const std::string idat("\x78\x9c\x63\x00\x00\x00\x01\x00\x01", 9);  // zlib of one 0 byte
  return std::string("\x89PNG\r\n\x1a\n", 8) + png_chunk("IHDR", ihdr) + png_chunk("IDAT", idat) +
         png_chunk("IEND", "");
}

// A valid JPEG with the SOF0 frame size patched to w x h.
std::string jpeg_with_size(unsigned w, unsigned h) {
  std::string b = jpeg_bytes(gray(16, 16));
  const auto sof = b.find("\xFF\xC0");
  EXPECT_NE(sof, std::string::npos);
  b[sof + 5] = static_cast<char>(h >> 8);
  b[sof + 6] = static_cast<char>(h & 0xFF);
  b[sof + 7] = static_cast<char>(w >> 8);
  b[sof + 8] = static_cast<char>(w & 0xFF);
  return b;
}

// A valid 16 x 12 DICOM, then `edit` applied to its dataset through DCMTK.
void write_dicom_edited(const fs::path& path, const std::function<void(DcmDataset*)>& edit,
                        int bits_stored = 12) {
  testing::DicomSpec spec;
  spec.width = 16;
  spec.height = 12;
  spec.bits_stored = bits_stored;
  spec.pixels.assign(16 * 12, 100);
  testing::write_dicom(path, spec);
  if (!edit) return;
  DcmFileFormat file;
  ASSERT_TRUE(file.loadFile(path.c_str()).good());
  edit(file.getDataset());
  ASSERT_TRUE(
      file.saveFile(path.c_str(), file.getDataset()->getOriginalXfer(), EET_ExplicitLength).good());
}

// ---------------------------------------------------------------- the actions

std::string decode(const fs::path& file, const std::string& bytes) {
  write_file_atomic(file, bytes);
  return message_of([&] { data::decode_image_info(file); });
}

std::string decode_file(const fs::path& file) {
  return message_of([&] { data::decode_image_info(file); });
}

std::string manifest(const fs::path& file, const std::string& rows_text) {
  const std::string header =
      "id,source,patient_id,label,subtype,view,split,original_path,path,width,height,bit_depth,"
      "sha256,gan_tasks\n";
  write_file_atomic(
      file, rows_text.rfind("id,", 0) == 0 || rows_text.empty() ? rows_text : header + rows_text);
  return message_of([&] { data::read_manifest(file); });
}

std::string config_text(const fs::path& file, const std::string& json) {
  write_file_atomic(file, json);
  return message_of([&] {
    Config cfg;
    config::apply_file(cfg, file);
  });
}

std::string config_set(const std::string& assignment) {
  return message_of([&] {
    Config cfg;
    config::apply_set(cfg, assignment);
  });
}

// A folder source of 4 normal + 4 covid patients (2 PNGs each), listed in labels.csv.
std::string good_labels(const fs::path& root) {
  std::string csv = "path,label,patient_id\n";
  for (const char* label : {"normal", "covid"}) {
    for (int p = 0; p < 4; ++p) {
      for (int k = 0; k < 2; ++k) {
        const std::string rel = fmt::format("{}/{}{}_{}.png", label, label, p, k);
        fs::create_directories(root / label);
        cv::Mat m = gray(20, 20);
        cv::imwrite((root / rel).string(), m);
        csv += fmt::format("{},{},{}{}\n", rel, label, label, p);
      }
    }
  }
  return csv;
}

data::PrepareOptions folder_options(const fs::path& root) {
  data::PrepareOptions o;
  o.image_size = 16;
  o.gan_per_domain = 2;
  o.folder.enabled = true;
  o.folder.root = root.string();
  o.folder.labels_csv = "labels.csv";
  return o;
}

// Everything a prepare wrote into R/data (manifest, summary, rejected list, images).
std::map<std::string, std::string> snapshot(const fs::path& data_dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(data_dir)) {
    if (e.is_regular_file())
      out[fs::relative(e.path(), data_dir).generic_string()] = read_file(e.path());
  }
  return out;
}

// Runs a good prepare into dir/run, then `break_it` on a fresh copy of the source, then prepare
// again: returns the error and checks that R/data is unchanged.
std::string prepare_after_good_run(
    const fs::path& dir,
    const std::function<void(const fs::path& root, data::PrepareOptions& o)>& break_it) {
  const fs::path root = dir / "source";
  write_file_atomic(root / "labels.csv", good_labels(root));
  const RunDir run(dir / "run");
  data::PrepareOptions o = folder_options(root);
  data::run_prepare(o, 7, run, 1);
  const auto before = snapshot(run.data_dir());
  EXPECT_TRUE(before.count("manifest.csv") && before.count("summary.json"));
  break_it(root, o);
  const std::string message = message_of([&] { data::run_prepare(o, 7, run, 1); });
  const auto after = snapshot(run.data_dir());
  EXPECT_EQ(before.size(), after.size()) << "a failed prepare changed the files in R/data";
  for (const auto& [name, bytes] : before) {
    auto it = after.find(name);
    EXPECT_TRUE(it != after.end() && it->second == bytes)
        << name << " changed or vanished after a failed prepare";
  }
  return message;
}

void append(const fs::path& file, const std::string& text) {
  write_file_atomic(file, read_file(file) + text);
}

// ---------------------------------------------------------------- the table

struct Case {
  const char* name;
  const char* format;
  std::function<std::string(const fs::path& dir)> run;
  std::vector<std::string> expect;  // substrings of the error message
};

std::vector<Case> cases() {
  const std::string good_png = png_bytes(gray(20, 20));
  const std::string good_jpeg = jpeg_bytes(gray(20, 20));
  const std::string row =
      "a,phantom,phantom:p1,normal,,,train,x,images/a.png,32,32,8,00,normal-vs-covid\n";
  const std::string row_b = "b,phantom,phantom:p2,covid,,,test,x,images/b.png,32,32,8,00,\n";
  return {
      // ---- PNG
      {"png-zero-byte",
       "png",
       [](const fs::path& d) { return decode(d / "z.png", ""); },
       {"z.png", "zero-byte file"}},
      {"png-truncated",
       "png",
       [=](const fs::path& d) { return decode(d / "t.png", good_png.substr(0, 60)); },
       {"t.png", "truncated PNG"}},
      {"png-wrong-magic",
       "png",
       [](const fs::path& d) { return decode(d / "gif.png", "GIF89a\x01\x00\x01\x00 not a png"); },
       {"gif.png", "cannot decode image"}},
      {"png-huge-dimensions",
       "png",
       [](const fs::path& d) { return decode(d / "huge.png", png_with_header(100000, 100000)); },
       {"huge.png", "100000 x 100000", "beyond the limit"}},
      {"png-huge-area",
       "png",
       [](const fs::path& d) {
         return decode(d / "area.png", png_with_header(30000, 30000, 16, 6));
       },
       {"area.png", "30000 x 30000"}},
      {"png-zero-width",
       "png",
       [](const fs::path& d) { return decode(d / "w0.png", png_with_header(0, 10)); },
       {"w0.png", "empty image"}},
      {"png-bad-bit-depth",
       "png",
       [](const fs::path& d) { return decode(d / "bd3.png", png_with_header(8, 8, 3, 0)); },
       {"bd3.png", "cannot decode image"}},
      {"png-bad-crc",
       "png",
       [=](const fs::path& d) {
         std::string b = good_png;
         b[29] = static_cast<char>(b[29] ^ 0x55);  // inside IHDR's CRC
         return decode(d / "crc.png", b);
       },
       {"crc.png", "cannot decode image"}},
      {"png-no-ihdr",
       "png",
       [](const fs::path& d) {
         return decode(d / "noihdr.png", std::string("\x89PNG\r\n\x1a\n", 8) +
                                             png_chunk("IEND", "") + png_chunk("IEND", ""));
       },
       {"noihdr.png", "no IHDR chunk"}},
      // ---- JPEG
      {"jpeg-zero-byte",
       "jpeg",
       [](const fs::path& d) { return decode(d / "z.jpg", ""); },
       {"z.jpg", "zero-byte file"}},
      {"jpeg-truncated",
       "jpeg",
       [=](const fs::path& d) {
         return decode(d / "t.jpg", good_jpeg.substr(0, good_jpeg.size() / 2));
       },
       {"t.jpg", "truncated JPEG"}},
      {"jpeg-wrong-magic",
       "jpeg",
       [](const fs::path& d) { return decode(d / "text.jpg", "hello, I am a text file\n"); },
       {"text.jpg", "cannot decode image"}},
      {"jpeg-huge-dimensions",
       "jpeg",
       [](const fs::path& d) { return decode(d / "huge.jpg", jpeg_with_size(60000, 60000)); },
       {"huge.jpg", "60000 x 60000", "JPEG frame header"}},
      {"jpeg-huge-area",
       "jpeg",
       [](const fs::path& d) { return decode(d / "area.jpg", jpeg_with_size(20000, 20000)); },
       {"area.jpg", "20000 x 20000"}},
      {"jpeg-zero-height",
       "jpeg",
       [](const fs::path& d) { return decode(d / "h0.jpg", jpeg_with_size(16, 0)); },
       {"h0.jpg", "empty image"}},
      {"jpeg-garbage-after-soi",
       "jpeg",
       [](const fs::path& d) {
         return decode(d / "junk.jpg", std::string("\xFF\xD8\x00\x11\x22\x33\xFF\xD9", 8));
       },
       {"junk.jpg", "cannot decode image"}},
      // ---- DICOM
      {"dicom-zero-byte",
       "dicom",
       [](const fs::path& d) { return decode(d / "z.dcm", ""); },
       {"z.dcm", "zero-byte file"}},
      {"dicom-wrong-magic",
       "dicom",
       [=](const fs::path& d) { return decode(d / "png.dcm", good_png); },
       {"png.dcm", "not a readable DICOM file"}},
      {"dicom-truncated",
       "dicom",
       [](const fs::path& d) {
         write_dicom_edited(d / "full.dcm", nullptr);
         const std::string b = read_file(d / "full.dcm");
         return decode(d / "t.dcm", b.substr(0, b.size() - 200));
       },
       {"t.dcm", "DICOM"}},
      {"dicom-no-pixel-data",
       "dicom",
       [](const fs::path& d) {
         write_dicom_edited(d / "nopix.dcm",
                            [](DcmDataset* ds) { delete ds->remove(DCM_PixelData); });
         return decode_file(d / "nopix.dcm");
       },
       {"nopix.dcm", "no pixel data"}},
      {"dicom-wrong-photometric",
       "dicom",
       [](const fs::path& d) {
         write_dicom_edited(d / "photo.dcm", [](DcmDataset* ds) {
           ds->putAndInsertString(DCM_PhotometricInterpretation, "BANANA");
         });
         return decode_file(d / "photo.dcm");
       },
       {"photo.dcm", "PhotometricInterpretation 'BANANA'"}},
      {"dicom-bits-stored-zero",
       "dicom",
       [](const fs::path& d) {
         write_dicom_edited(d / "bs0.dcm",
                            [](DcmDataset* ds) { ds->putAndInsertUint16(DCM_BitsStored, 0); });
         return decode_file(d / "bs0.dcm");
       },
       {"bs0.dcm", "BitsStored missing or zero"}},
      {"dicom-bits-stored-above-allocated",
       "dicom",
       [](const fs::path& d) {
         write_dicom_edited(d / "bs20.dcm", [](DcmDataset* ds) {
           ds->putAndInsertUint16(DCM_BitsStored, 20);
           ds->putAndInsertUint16(DCM_HighBit, 19);
         });
         return decode_file(d / "bs20.dcm");
       },
       {"bs20.dcm", "BitsStored 20"}},
      {"dicom-huge-dimensions",
       "dicom",
       [](const fs::path& d) {
         write_dicom_edited(d / "huge.dcm", [](DcmDataset* ds) {
           ds->putAndInsertUint16(DCM_Rows, 65535);
           ds->putAndInsertUint16(DCM_Columns, 65535);
         });
         return decode_file(d / "huge.dcm");
       },
       {"huge.dcm", "65535 x 65535", "DICOM Rows/Columns"}},
      {"dicom-missing-rows",
       "dicom",
       [](const fs::path& d) {
         write_dicom_edited(d / "norows.dcm", [](DcmDataset* ds) { delete ds->remove(DCM_Rows); });
         return decode_file(d / "norows.dcm");
       },
       {"norows.dcm", "Rows or Columns missing"}},
      {"dicom-pixel-data-too-short",
       "dicom",
       [](const fs::path& d) {
         write_dicom_edited(d / "short.dcm", [](DcmDataset* ds) {
           ds->putAndInsertUint16(DCM_Rows, 1000);
           ds->putAndInsertUint16(DCM_Columns, 1000);
         });
         return decode_file(d / "short.dcm");
       },
       {"short.dcm", "Rows 1000 x Columns 1000", "truncated or corrupt"}},
      {"dicom-jpeg2000",
       "dicom",
       [](const fs::path& d) {
         // Committed: a 16 x 12 JPEG 2000 DICOM (no JPEG 2000 decoder in Debian's DCMTK).
         return decode_file(testing::source_dir() / "tests/corpus/files/jpeg2000.dcm");
       },
       {"jpeg2000.dcm", "cannot decode transfer syntax", "JPEG 2000"}},
      // ---- CSV sources (through prepare on a run directory that holds a good prepare)
      {"csv-missing-column",
       "csv",
       [](const fs::path& d) {
         return prepare_after_good_run(d, [](const fs::path& root, data::PrepareOptions&) {
           write_file_atomic(root / "labels.csv", "file,label\nnormal/normal0_0.png,normal\n");
         });
       },
       {"labels.csv", "missing column(s) path"}},
      {"csv-bad-label",
       "csv",
       [](const fs::path& d) {
         return prepare_after_good_run(d, [](const fs::path& root, data::PrepareOptions&) {
           append(root / "labels.csv", "normal/normal0_0.png,banana,x\n");
         });
       },
       {"labels.csv:18", "'banana' is not normal, pneumonia or covid"}},
      {"csv-unclosed-quote",
       "csv",
       [](const fs::path& d) {
         return prepare_after_good_run(d, [](const fs::path& root, data::PrepareOptions&) {
           append(root / "labels.csv", "\"normal/normal0_0.png,normal,x\n");
         });
       },
       {"labels.csv:18", "quoted field is never closed"}},
      {"csv-field-count",
       "csv",
       [](const fs::path& d) {
         return prepare_after_good_run(d, [](const fs::path& root, data::PrepareOptions&) {
           append(root / "labels.csv", "normal/normal0_0.png,normal,x,extra\n");
         });
       },
       {"labels.csv:18", "expected 3 fields as in the header, found 4"}},
      {"csv-zero-byte",
       "csv",
       [](const fs::path& d) {
         return prepare_after_good_run(d, [](const fs::path& root, data::PrepareOptions&) {
           write_file_atomic(root / "labels.csv", "");
         });
       },
       {"labels.csv", "empty CSV"}},
      {"csv-missing-image",
       "csv",
       [](const fs::path& d) {
         return prepare_after_good_run(d, [](const fs::path& root, data::PrepareOptions&) {
           append(root / "labels.csv", "normal/gone.png,normal,n9\n");
         });
       },
       {"gone.png", "do not exist", "--skip-missing"}},
      {"csv-row-with-bad-image",
       "csv",
       [](const fs::path& d) {
         return prepare_after_good_run(d, [](const fs::path& root, data::PrepareOptions&) {
           write_file_atomic(root / "normal/broken.png", "\x89PNG\r\n\x1a\nbroken");
           append(root / "labels.csv", "normal/broken.png,normal,n9\n");
         });
       },
       {"labels.csv:18", "broken.png"}},
      {"csv-huge-image",
       "csv",
       [](const fs::path& d) {
         return prepare_after_good_run(d, [](const fs::path& root, data::PrepareOptions&) {
           write_file_atomic(root / "covid/huge.png", png_with_header(100000, 100000));
           append(root / "labels.csv", "covid/huge.png,covid,c9\n");
         });
       },
       {"labels.csv:18", "huge.png", "100000 x 100000"}},
      {"csv-nan-target",
       "csv",
       [](const fs::path& d) {
         // RSNA's labels CSV with NaN where Target (0/1) belongs.
         const fs::path root = d / "rsna";
         write_file_atomic(root / "stage_2_train_labels.csv",
                           "patientId,x,y,width,height,Target\np1,,,,,0\np2,1,2,3,4,NaN\n");
         data::PrepareOptions o;
         o.rsna.enabled = true;
         o.rsna.root = root.string();
         o.rsna.normal_definition = "target0";
         return message_of([&] { data::run_prepare(o, 1, RunDir(d / "run"), 1); });
       },
       {"stage_2_train_labels.csv:3", "column Target", "'NaN'"}},
      // ---- manifest
      {"manifest-zero-byte",
       "manifest",
       [](const fs::path& d) { return manifest(d / "manifest.csv", ""); },
       {"manifest.csv", "empty CSV"}},
      {"manifest-missing-columns",
       "manifest",
       [](const fs::path& d) {
         return manifest(d / "manifest.csv", "id,source,patient_id,label\na,b,c,normal\n");
       },
       {"manifest.csv", "missing column(s)", "gan_tasks"}},
      {"manifest-duplicate-ids",
       "manifest",
       [=](const fs::path& d) { return manifest(d / "manifest.csv", row + row); },
       {"manifest.csv:3", "duplicate id 'a'", "first at", "manifest.csv:2"}},
      {"manifest-patient-in-two-splits",
       "manifest",
       [=](const fs::path& d) {
         std::string second = row;
         second.replace(0, 1, "c");
         second.replace(second.find("train"), 5, "test");
         return manifest(d / "manifest.csv", row + second);
       },
       {"manifest.csv", "patient leakage", "phantom:p1 (test+train)"}},
      {"manifest-nan-width",
       "manifest",
       [=](const fs::path& d) {
         std::string r = row_b;
         r.replace(r.find(",32,32,"), 7, ",NaN,32,");
         return manifest(d / "manifest.csv", r);
       },
       {"manifest.csv:2", "column width", "'NaN'"}},
      {"manifest-width-overflow",
       "manifest",
       [=](const fs::path& d) {
         std::string r = row_b;
         r.replace(r.find(",32,32,"), 7, ",4294967328,32,");
         return manifest(d / "manifest.csv", r);
       },
       {"manifest.csv:2", "column width", "4294967328", "out of range"}},
      {"manifest-bad-label",
       "manifest",
       [=](const fs::path& d) {
         std::string r = row_b;
         r.replace(r.find("covid"), 5, "flu");
         return manifest(d / "manifest.csv", r);
       },
       {"manifest.csv:2", "column label", "'flu'"}},
      {"manifest-bad-split",
       "manifest",
       [=](const fs::path& d) {
         std::string r = row_b;
         r.replace(r.find("test"), 4, "holdout");
         return manifest(d / "manifest.csv", r);
       },
       {"manifest.csv:2", "column split", "'holdout'"}},
      {"manifest-unknown-gan-task",
       "manifest",
       [=](const fs::path& d) {
         std::string r = row;
         r.replace(r.find("normal-vs-covid"), 15, "cats-vs-dogs");
         return manifest(d / "manifest.csv", r);
       },
       {"manifest.csv:2", "column gan_tasks", "cats-vs-dogs"}},
      {"manifest-quote-in-field",
       "manifest",
       [=](const fs::path& d) { return manifest(d / "manifest.csv", "a\"b" + row.substr(1)); },
       {"manifest.csv:2", "quote inside an unquoted field"}},
      // ---- config
      {"config-unknown-key",
       "config",
       [](const fs::path& d) {
         return config_text(d / "c.json", R"({"gan": {"lamda_cycle": 5}})");
       },
       {"c.json", "unknown config key 'gan.lamda_cycle'", "did you mean 'lambda_cycle'"}},
      {"config-unknown-section",
       "config",
       [](const fs::path& d) { return config_text(d / "c.json", R"({"gann": {}})"); },
       {"c.json", "unknown config key 'gann'"}},
      {"config-wrong-type",
       "config",
       [](const fs::path& d) { return config_text(d / "c.json", R"({"gan": {"epochs": "4"}})"); },
       {"c.json", "'gan.epochs'", "expected an integer"}},
      {"config-fractional-int",
       "config",
       [](const fs::path& d) { return config_text(d / "c.json", R"({"gan": {"epochs": 3.5}})"); },
       {"c.json", "'gan.epochs'", "expected an integer"}},
      {"config-int-overflow",
       "config",
       [](const fs::path& d) {
         return config_text(d / "c.json", R"({"gan": {"epochs": 4294967297}})");
       },
       {"c.json", "'gan.epochs'", "4294967297", "does not fit a 32-bit integer"}},
      {"config-huge-float-int",
       "config",
       [](const fs::path& d) { return config_text(d / "c.json", R"({"run": {"seed": 1e300}})"); },
       {"c.json", "'run.seed'", "does not fit a 64-bit integer"}},
      {"config-out-of-range",
       "config",
       [](const fs::path& d) {
         return config_text(d / "c.json", R"({"data": {"test_fraction": 7}})");
       },
       {"c.json", "'data.test_fraction'", "out of range"}},
      {"config-bad-choice",
       "config",
       [](const fs::path& d) {
         return config_text(d / "c.json", R"({"gan": {"adv_loss": "wgan"}})");
       },
       {"c.json", "'gan.adv_loss'", "'wgan' is not one of"}},
      {"config-invalid-json",
       "config",
       [](const fs::path& d) { return config_text(d / "c.json", R"({"gan": {"epochs": 4,}})"); },
       {"c.json", "invalid JSON"}},
      {"config-nan",
       "config",
       [](const fs::path& d) {
         return config_text(d / "c.json", R"({"gan": {"lambda_cycle": NaN}})");
       },
       {"c.json", "invalid JSON"}},
      {"config-number-overflow",
       "config",
       [](const fs::path& d) {
         return config_text(d / "c.json", R"({"gan": {"lambda_cycle": 1e999}})");
       },
       {"c.json", "invalid JSON", "number overflow"}},
      {"config-set-invalid-utf8",
       "config",
       [](const fs::path&) { return config_set("data.cohen.root=/data/\xE9t\xE9"); },
       {"--set", "not valid UTF-8", "0xE9"}},
      {"config-not-an-object",
       "config",
       [](const fs::path& d) { return config_text(d / "c.json", "[1, 2]"); },
       {"c.json", "must be a JSON object"}},
      {"config-zero-byte",
       "config",
       [](const fs::path& d) { return config_text(d / "c.json", ""); },
       {"c.json", "invalid JSON"}},
      {"config-missing-file",
       "config",
       [](const fs::path& d) {
         return message_of([&] {
           Config cfg;
           config::apply_file(cfg, d / "nope.json");
         });
       },
       {"cannot read config file", "nope.json"}},
      {"config-set-without-value",
       "config",
       [](const fs::path&) { return config_set("gan.lambda_cycle"); },
       {"--set 'gan.lambda_cycle'", "expected key.path=value"}},
      {"config-set-unknown-key",
       "config",
       [](const fs::path&) { return config_set("gan.lambda_cycel=3"); },
       {"unknown config key 'gan.lambda_cycel'", "did you mean 'lambda_cycle'"}},
  };
}

TEST(BadInputCorpus, EveryCaseIsRefusedByName) {
  std::map<std::string, int> per_format;
  for (const Case& c : cases()) {
    SCOPED_TRACE(c.name);
    TempDir dir;
    const std::string message = c.run(dir.path());
    std::cout << "[corpus] " << c.name << ": " << message << "\n";
    EXPECT_FALSE(message.empty()) << c.name << ": accepted; expected an error";
    for (const auto& s : c.expect) {
      EXPECT_NE(message.find(s), std::string::npos)
          << c.name << ": the message lacks '" << s << "':\n"
          << message;
    }
    ++per_format[c.format];
  }
  int total = 0;
  for (const auto& [format, n] : per_format) total += n;
  EXPECT_GE(total, 30);
  for (const char* f : {"png", "jpeg", "dicom", "csv", "manifest", "config"})
    EXPECT_GE(per_format[f], 3) << f;
}

// Valid but unusual inputs are not refused: odd bit depths and colour types decode to one
// channel with the right depth.
TEST(BadInputCorpus, UnusualButValidImagesDecode) {
  TempDir dir;
  const auto ok = [&](const std::string& name, const std::string& bytes, int depth) {
    write_file_atomic(dir / name, bytes);
    const data::DecodedImage img = data::decode_image_info(dir / name);
    EXPECT_EQ(img.pixels.channels(), 1) << name;
    EXPECT_EQ(img.bit_depth, depth) << name;
  };
  cv::Mat bw = gray(17, 9) > 128;  // 1-bit PNG through OpenCV's bilevel writer
  std::vector<unsigned char> buf;
  ASSERT_TRUE(cv::imencode(".png", bw, buf, {cv::IMWRITE_PNG_BILEVEL, 1}));
  ok("bilevel.png", std::string(buf.begin(), buf.end()), 8);
  ok("rgba16.png", png_bytes(gray(9, 7, CV_16UC4)), 16);
  write_dicom_edited(dir / "twelve.dcm", nullptr, 12);
  EXPECT_EQ(data::decode_image_info(dir / "twelve.dcm").bit_depth, 12);
}

}  // namespace
}  // namespace cxrsynth
