// The synthesis stage: provenance, train-only sources, shards == whole, kill-and-rerun resume,
// worker-count independence, bf16 vs fp32, any-input mode (PNG + DICOM).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/sha256.h"
#include "data/dicom_writer.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "models/cyclegan/generator_io.h"
#include "support/temp_dir.h"
#include "synth/bf16_unet.h"
#include "synth/engine.h"
#include "synth/synthesize.h"
#include "train/checkpoint.h"

namespace cxrsynth::synth {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr int kSize = 32;
const char* kTask = "normal-vs-covid";

cv::Mat pattern(int i, int w = kSize, int h = kSize) {
  cv::Mat m(h, w, CV_16UC1);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<std::uint16_t>(y, x) =
          static_cast<std::uint16_t>(((x * 7 + y * 13 + i * 31) % 64) * 1000);
  return m;
}

models::GeneratorOptions tiny_generator_options() {
  models::GeneratorOptions o;
  o.arch = "unet";
  o.filters = 4;
  return o;
}

// A run directory with a data manifest (images 32 px) and a tiny trained-looking generator,
// plus G_B in checkpoint.pt.
struct RowSpec {
  std::string label, split;
  int count;
};

void make_run(const fs::path& root, const std::vector<RowSpec>& specs) {
  const RunDir run(root);
  std::vector<data::ManifestRow> rows;
  int n = 0;
  for (const auto& s : specs) {
    for (int k = 0; k < s.count; ++k, ++n) {
      data::ManifestRow r;
      r.id = fmt::format("src-{}-{}-{:02d}", s.label, s.split, k);
      r.source = "test";
      r.patient_id = fmt::format("test:p-{}-{}-{}", s.label, s.split, k);
      r.label = s.label;
      r.split = s.split;
      r.original_path = "/nowhere/" + r.id + ".png";
      r.path = "images/" + r.id + ".png";
      r.width = r.height = kSize;
      r.bit_depth = 16;
      r.sha256 = std::string(64, '0');
      data::write_png_atomic(run.data_dir() / r.path, pattern(n));
      rows.push_back(r);
    }
  }
  data::write_manifest(run.manifest(), rows);
  torch::manual_seed(7);
  models::Generator ga(tiny_generator_options()), gb(tiny_generator_options());
  models::save_generator(run.gan_dir(kTask), ga, {tiny_generator_options(), kSize, kTask, 10});
  train::StateArchive a;
  for (const auto& p : gb->named_parameters()) a.put_tensor("G_B/param/" + p.key(), p.value());
  for (const auto& b : gb->named_buffers()) a.put_tensor("G_B/buffer/" + b.key(), b.value());
  a.save(run.gan_dir(kTask) / "checkpoint.pt");
}

std::map<std::string, std::string> files_under(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file())
      out[fs::relative(e.path(), dir).generic_string()] = read_file(e.path());
  return out;
}

std::vector<std::string> png_chunk_types(const std::string& png) {
  std::vector<std::string> types;
  std::size_t pos = 8;
  while (pos + 8 <= png.size()) {
    const auto* p = reinterpret_cast<const unsigned char*>(png.data() + pos);
    const std::size_t len =
        (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) | p[3];
    types.push_back(png.substr(pos + 4, 4));
    pos += 12 + len;
  }
  return types;
}

SynthOptions small_options() {
  SynthOptions o;
  o.batch_size = 3;
  o.workers = 2;
  return o;
}

TEST(Synth, ProvenanceIsCompleteAndUsesTrainingImagesOfClassAOnly) {
  TempDir tmp;
  make_run(tmp.path(), {{"normal", "train", 7},
                        {"normal", "val", 2},
                        {"normal", "test", 2},
                        {"covid", "train", 3},
                        {"pneumonia", "train", 2}});
  const RunDir run(tmp.path());
  const auto stats = run_synthesize(small_options(), kTask, run);
  EXPECT_EQ(stats.total, 7);
  EXPECT_EQ(stats.written, 7);
  EXPECT_TRUE(stats.manifest_written);

  const auto data_rows = data::read_manifest(run.manifest());
  std::map<std::string, data::ManifestRow> by_id;
  for (const auto& r : data_rows) by_id[r.id] = r;
  const fs::path out = run.synthetic_dir(kTask);
  const auto table = read_csv(out / "manifest.csv");
  EXPECT_EQ(table.header(), synthetic_manifest_columns());
  ASSERT_EQ(table.size(), 7u);
  const std::string ckpt = sha256_file(run.gan_dir(kTask) / "generator_ab.pt");
  std::set<std::string> sources;
  for (std::size_t i = 0; i < table.size(); ++i) {
    for (const auto& c : synthetic_manifest_columns())
      EXPECT_FALSE(table.at(i, c).empty()) << c << " empty at " << table.where(i);
    const auto& src = by_id.at(table.at(i, "source_id"));
    EXPECT_EQ(src.split, "train");
    EXPECT_EQ(src.label, "normal");
    EXPECT_EQ(table.at(i, "source_patient_id"), src.patient_id);
    EXPECT_EQ(table.at(i, "source_split"), "train");
    EXPECT_EQ(table.at(i, "direction"), "a2b");
    EXPECT_EQ(table.at(i, "checkpoint_sha256"), ckpt);
    EXPECT_EQ(table.at(i, "options_hash"), table.at(0, "options_hash"));
    EXPECT_EQ(table.at(i, "options_hash").size(), 64u);
    EXPECT_EQ(table.at(i, "id"), fmt::format("gnc-{:06d}", i));
    EXPECT_EQ(table.at(i, "path"), "images/" + table.at(i, "id") + ".png");
    const fs::path img = out / table.at(i, "path");
    EXPECT_EQ(table.at(i, "output_sha256"), sha256_file(img));
    // No patient identifier in names or PNG metadata: only the image chunks.
    for (const auto& t : png_chunk_types(read_file(img)))
      EXPECT_TRUE(t == "IHDR" || t == "IDAT" || t == "IEND") << "chunk " << t;
    const cv::Mat m = data::decode_image(img);
    EXPECT_EQ(m.type(), CV_16UC1);
    EXPECT_EQ(m.rows, kSize);
    sources.insert(table.at(i, "source_id"));
  }
  EXPECT_EQ(sources.size(), 7u);
  // Nothing else in images/ (no val/test-derived file, no temp files).
  std::size_t n_images = 0;
  for (const auto& e : fs::directory_iterator(out / "images")) {
    (void)e;
    ++n_images;
  }
  EXPECT_EQ(n_images, 7u);
}

TEST(Synth, EightBitAndReverseDirection) {
  TempDir tmp;
  make_run(tmp.path(), {{"normal", "train", 2}, {"covid", "train", 3}, {"covid", "test", 1}});
  SynthOptions o = small_options();
  o.bit_depth = 8;
  o.direction = "b2a";
  const RunDir run(tmp.path());
  const auto stats = run_synthesize(o, kTask, run);
  EXPECT_EQ(stats.total, 3);
  const auto table = read_csv(run.synthetic_dir(kTask) / "manifest.csv");
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table.at(0, "id"), "gcn-000000");
  EXPECT_EQ(table.at(0, "direction"), "b2a");
  EXPECT_EQ(table.at(0, "checkpoint_sha256"), sha256_file(run.gan_dir(kTask) / "checkpoint.pt"));
  for (std::size_t i = 0; i < table.size(); ++i)
    EXPECT_NE(table.at(i, "source_id").find("covid-train"), std::string::npos);
  const cv::Mat m = data::decode_image(run.synthetic_dir(kTask) / table.at(0, "path"));
  EXPECT_EQ(m.type(), CV_8UC1);
}

TEST(Synth, RefusesNonTrainSourcesInTaskJobs) {
  TempDir tmp;
  data::write_png_atomic(tmp / "a.png", pattern(0));
  SynthJob job;
  job.sources = {{"x", "p:1", "test", tmp / "a.png"}};
  job.out_dir = tmp / "out";
  job.id_prefix = "gnc";
  job.direction = "a2b";
  job.image_size = kSize;
  job.require_train = true;
  const Translator identity = [](const at::Tensor& x) { return x; };
  EXPECT_THROW(synthesize(job, identity, small_options()), UsageError);
  EXPECT_FALSE(fs::exists(tmp / "out" / "images"));
}

TEST(Synth, ShardsUnionEqualsUnshardedByteForByte) {
  TempDir tmp;
  const fs::path r1 = tmp / "r1", r2 = tmp / "r2";
  make_run(r1, {{"normal", "train", 10}, {"normal", "test", 2}});
  fs::copy(r1, r2, fs::copy_options::recursive);
  const SynthOptions o = small_options();  // batch 3: 4 batches, the last one short
  const auto s0 = run_synthesize(o, kTask, RunDir(r1), Shard{0, 2});
  EXPECT_FALSE(s0.manifest_written);
  EXPECT_EQ(s0.written, 6);  // batches 0 and 2
  EXPECT_THROW(run_synthesize(o, kTask, RunDir(r1), Shard{0, 1}, /*merge_only=*/true), UsageError);
  const auto s1 = run_synthesize(o, kTask, RunDir(r1), Shard{1, 2});
  EXPECT_EQ(s1.written, 4);
  EXPECT_TRUE(s1.manifest_written);
  run_synthesize(o, kTask, RunDir(r2));
  auto a = files_under(RunDir(r1).synthetic_dir(kTask));
  auto b = files_under(RunDir(r2).synthetic_dir(kTask));
  for (auto* m : {&a, &b})
    for (auto it = m->begin(); it != m->end();)
      it = it->first.rfind("journal/", 0) == 0 ? m->erase(it) : std::next(it);
  EXPECT_EQ(a.size(), 11u);  // 10 images + manifest.csv
  EXPECT_TRUE(a == b);
  // --merge on a complete set rewrites the identical manifest.
  const auto manifest = read_file(RunDir(r1).synthetic_dir(kTask) / "manifest.csv");
  EXPECT_TRUE(run_synthesize(o, kTask, RunDir(r1), Shard{0, 1}, true).manifest_written);
  EXPECT_EQ(read_file(RunDir(r1).synthetic_dir(kTask) / "manifest.csv"), manifest);
  // A rerun of a complete job writes nothing.
  const auto again = run_synthesize(o, kTask, RunDir(r1));
  EXPECT_EQ(again.written, 0);
  EXPECT_EQ(again.skipped, 10);
  // Another generator: everything is redone, and the old manifest goes as soon as work starts.
  torch::manual_seed(99);
  models::Generator other(tiny_generator_options());
  models::save_generator(RunDir(r1).gan_dir(kTask), other,
                         {tiny_generator_options(), kSize, kTask, 20});
  const auto redo = run_synthesize(o, kTask, RunDir(r1), Shard{0, 2});
  EXPECT_EQ(redo.written, 6);
  EXPECT_FALSE(fs::exists(RunDir(r1).synthetic_dir(kTask) / "manifest.csv"));
}

TEST(Synth, OutputsDoNotDependOnWorkerCount) {
  TempDir tmp;
  const fs::path r1 = tmp / "r1", r2 = tmp / "r2";
  make_run(r1, {{"normal", "train", 8}});
  fs::copy(r1, r2, fs::copy_options::recursive);
  SynthOptions o = small_options();
  o.workers = 1;
  o.prefetch_batches = 1;
  run_synthesize(o, kTask, RunDir(r1));
  o.workers = 4;
  o.prefetch_batches = 3;
  run_synthesize(o, kTask, RunDir(r2));
  auto a = files_under(RunDir(r1).synthetic_dir(kTask) / "images");
  auto b = files_under(RunDir(r2).synthetic_dir(kTask) / "images");
  EXPECT_EQ(a.size(), 8u);
  EXPECT_TRUE(a == b);
  EXPECT_EQ(read_file(RunDir(r1).synthetic_dir(kTask) / "manifest.csv"),
            read_file(RunDir(r2).synthetic_dir(kTask) / "manifest.csv"));
}

std::string cli_binary() {
  const char* bin = std::getenv("CXRSYNTH_BINARY");
  return bin ? bin : CXRSYNTH_SYNTH_TEST_BINARY;
}

std::size_t complete_lines(const fs::path& file) {
  if (!fs::exists(file)) return 0;
  const std::string text = read_file(file);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

TEST(Synth, KilledRunFinishesOnRerunWithoutRedoingFinishedImages) {
  TempDir tmp;
  const fs::path r1 = tmp / "r1", r2 = tmp / "r2";
  make_run(r1, {{"normal", "train", 16}});
  fs::copy(r1, r2, fs::copy_options::recursive);
  const std::string bin = cli_binary();
  const fs::path out1 = RunDir(r1).synthetic_dir(kTask);
  const fs::path journal = out1 / "journal" / "shard-0-of-1.csv";

  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("CXRSYNTH_TEST_SYNTH_BATCH_DELAY_MS", "300", 1);
    const std::string run_dir = r1.string();
    ::execl(bin.c_str(), bin.c_str(), "synthesize", "--task", kTask, "--run-dir", run_dir.c_str(),
            "--threads", "1", "--set", "synth.batch_size=2", "-q", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (complete_lines(journal) < 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the child finished before it was killed";
  ASSERT_FALSE(fs::exists(out1 / "manifest.csv"));

  // Finished outputs: in the journal. Remember their inode and mtime.
  std::string journal_text = read_file(journal);
  journal_text.resize(journal_text.rfind('\n') + 1);  // a write cut by the kill
  const auto table = parse_csv(csv_line(synthetic_manifest_columns()) + journal_text, "j");
  ASSERT_GE(table.size(), 3u);
  std::map<std::string, std::pair<ino_t, std::int64_t>> finished;
  for (std::size_t i = 0; i < table.size(); ++i) {
    struct stat st {};
    ASSERT_EQ(::stat((out1 / table.at(i, "path")).c_str(), &st), 0);
    finished[table.at(i, "path")] = {
        st.st_ino, std::int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec};
  }
  ASSERT_LT(finished.size(), 16u);
  // A damaged finished output is redone; a stray temp file of the dead process is removed.
  const std::string damaged = finished.begin()->first;
  finished.erase(finished.begin());
  write_file_atomic(out1 / damaged, std::string("not a png"));
  write_file_atomic(out1 / "images" / ".gnc-000015.tmp999999-0.png", std::string("partial"));

  const auto rerun = testing::run_cli("synthesize --task " + std::string(kTask) + " --run-dir " +
                                      r1.string() + " --threads 1 --set synth.batch_size=2 -q");
  ASSERT_EQ(rerun.exit_code, 0) << rerun.output;
  for (const auto& [path, id] : finished) {
    struct stat st {};
    ASSERT_EQ(::stat((out1 / path).c_str(), &st), 0);
    EXPECT_EQ(st.st_ino, id.first) << path << " was rewritten";
    EXPECT_EQ(std::int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec, id.second) << path;
  }
  EXPECT_FALSE(fs::exists(out1 / "images" / ".gnc-000015.tmp999999-0.png"));

  const auto whole = testing::run_cli("synthesize --task " + std::string(kTask) + " --run-dir " +
                                      r2.string() + " --threads 1 --set synth.batch_size=2 -q");
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const fs::path out2 = RunDir(r2).synthetic_dir(kTask);
  EXPECT_EQ(read_file(out1 / "manifest.csv"), read_file(out2 / "manifest.csv"));
  const auto a = files_under(out1 / "images"), b = files_under(out2 / "images");
  EXPECT_EQ(a.size(), 16u);
  EXPECT_TRUE(a == b);
}

TEST(Synth, Bf16IsCloseToFp32) {
  if (!cpu_supports_bf16()) GTEST_SKIP() << "no avx512_bf16/amx_bf16 on this CPU";
  TempDir tmp;
  make_run(tmp.path(), {{"normal", "train", 6}});
  SynthOptions o = small_options();
  o.precision = "bf16";
  o.bf16_check_images = 6;
  const auto stats = run_synthesize(o, kTask, RunDir(tmp.path()));
  ASSERT_TRUE(stats.bf16_psnr_db.has_value());
  std::printf("bf16 vs fp32 PSNR: %.2f dB\n", *stats.bf16_psnr_db);
  EXPECT_GE(*stats.bf16_psnr_db, 40.0);
}

// The frozen bf16 U-Net graph (bf16_unet.h) against the fp32 module it was built from, on
// random weights with non-trivial instance-norm affine parameters: 1 and 3 channels, with and
// without the residual output, two sizes. A wrong tap of the sub-pixel rewrite, a wrong norm or
// a wrong concat order gives 10-30 dB; bf16 rounding alone about 45-55 dB.
TEST(Synth, Bf16UnetGraphMatchesTheFp32Module) {
  if (!cpu_supports_bf16()) GTEST_SKIP() << "no avx512_bf16/amx_bf16 on this CPU";
  struct Case {
    int channels, filters, size, batch;
    bool residual;
  };
  for (const Case c : {Case{1, 4, 32, 3, true}, Case{1, 8, 64, 2, false}, Case{3, 4, 32, 2, false},
                       Case{1, 4, 48, 1, false}}) {
    SCOPED_TRACE(fmt::format("channels {} filters {} size {} batch {} residual {}", c.channels,
                             c.filters, c.size, c.batch, c.residual));
    models::GeneratorOptions g = tiny_generator_options();
    g.channels = c.channels;
    g.filters = c.filters;
    g.residual = c.residual;
    torch::manual_seed(11);
    models::Generator net(g);
    {
      torch::NoGradGuard no_grad;
      for (auto& p : net->named_parameters())
        if (p.value().dim() == 1) p.value().copy_(torch::rand_like(p.value()) + 0.5);
    }
    net->eval();
    const auto x = torch::sin(torch::arange(c.batch * c.channels * c.size * c.size)
                                  .reshape({c.batch, c.channels, c.size, c.size})
                                  .to(torch::kFloat) *
                              0.37) *
                   0.9;
    const Translator graph = make_bf16_unet_translator(net);
    c10::InferenceMode guard;
    const auto ref = net->forward(x);
    const auto out = graph(x);
    ASSERT_EQ(out.sizes(), ref.sizes());
    ASSERT_EQ(out.scalar_type(), torch::kFloat);
    const double psnr = psnr_db(ref, out);
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
    const auto autocast = net->forward(x).to(torch::kFloat);
    at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(false);
    const double psnr_autocast = psnr_db(ref, autocast);
    std::printf("bf16 graph PSNR %.2f dB (autocast %.2f dB)\n", psnr, psnr_autocast);
    EXPECT_GE(psnr, 40.0);
    EXPECT_GE(psnr, psnr_autocast - 3.0);
    EXPECT_TRUE(torch::equal(graph(x), out)) << "not deterministic";
  }
}

TEST(Synth, Bf16UnetGraphRefusesOtherArchitectures) {
  models::GeneratorOptions g;
  g.arch = "resnet";
  g.filters = 4;
  g.blocks = 1;
  EXPECT_FALSE(bf16_unet_supported(g));
  EXPECT_THROW(make_bf16_unet_translator(models::Generator(g)), Error);
}

TEST(Synth, RefusesBf16WhereUnsupported) {
  if (cpu_supports_bf16()) GTEST_SKIP() << "this CPU supports bf16";
  TempDir tmp;
  make_run(tmp.path(), {{"normal", "train", 1}});
  SynthOptions o = small_options();
  o.precision = "bf16";
  EXPECT_THROW(run_synthesize(o, kTask, RunDir(tmp.path())), UsageError);
}

TEST(Synth, AnyInputFolderWithPngAndDicom) {
  TempDir tmp;
  make_run(tmp / "run", {{"normal", "train", 1}});
  const fs::path in = tmp / "in";
  data::write_png_atomic(in / "b.png", pattern(1, 48, 40));  // resized to 32 x 32
  cv::Mat eight;
  pattern(2).convertTo(eight, CV_8U, 1.0 / 256);
  data::write_png_atomic(in / "a.png", eight);
  testing::DicomSpec spec;
  spec.width = spec.height = kSize;
  spec.bits_stored = 12;
  for (int i = 0; i < kSize * kSize; ++i)
    spec.pixels.push_back(static_cast<std::uint16_t>(i * 3 % 4096));
  fs::create_directories(in / "sub");
  testing::write_dicom(in / "sub" / "c.dcm", spec);
  const fs::path out = tmp / "out";
  const auto stats =
      run_synthesize_files(small_options(), RunDir(tmp / "run").gan_dir(kTask), in, out);
  EXPECT_EQ(stats.total, 3);
  const auto table = read_csv(out / "manifest.csv");
  ASSERT_EQ(table.size(), 3u);
  EXPECT_EQ(table.at(0, "source_id"), "a.png");
  EXPECT_EQ(table.at(1, "source_id"), "b.png");
  EXPECT_EQ(table.at(2, "source_id"), "sub/c.dcm");
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(table.at(i, "id"), fmt::format("syn-{:06d}", i));
    EXPECT_EQ(table.at(i, "source_split"), "external");
    EXPECT_EQ(table.at(i, "source_patient_id"), "");
    const cv::Mat m = data::decode_image(out / table.at(i, "path"));
    EXPECT_EQ(m.rows, kSize);
    EXPECT_EQ(m.cols, kSize);
  }
}

TEST(Synth, ParseShard) {
  EXPECT_EQ(parse_shard("1/4").index, 1);
  EXPECT_EQ(parse_shard("1/4").count, 4);
  EXPECT_THROW(parse_shard("4/4"), UsageError);
  EXPECT_THROW(parse_shard("1"), UsageError);
  EXPECT_THROW(parse_shard("a/2"), UsageError);
  EXPECT_THROW(parse_shard("1/2x"), UsageError);
}

}  // namespace
}  // namespace cxrsynth::synth
