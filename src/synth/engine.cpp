#include "synth/engine.h"

#include <fcntl.h>
#include <unistd.h>

#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "core/sha256.h"
#include "data/image_io.h"
#include "data/preprocess.h"

namespace cxrsynth::synth {

namespace {

// A fixed set of threads running queued jobs; queued jobs not yet started when the pool is
// destroyed are dropped (their futures report broken_promise, nobody waits on them then).
class TaskPool {
 public:
  explicit TaskPool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { loop(); });
  }
  ~TaskPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
      queue_.clear();
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  template <class F>
  auto submit(F f) -> std::future<decltype(f())> {
    auto task = std::make_shared<std::packaged_task<decltype(f())()>>(std::move(f));
    auto fut = task->get_future();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      queue_.emplace_back([task] { (*task)(); });
    }
    cv_.notify_one();
    return fut;
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job();
    }
  }
  std::vector<std::thread> threads_;
  std::deque<std::function<void()>> queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
};

// Append-only journal: one complete CSV line per write(), so a crash leaves at most a partial
// last line (ignored when read). Not synced: a line is written only after its PNG was fsynced
// and renamed, and a line lost in a crash only means that image is redone (every skip is
// verified against the file's sha256 anyway).
class Journal {
 public:
  explicit Journal(const fs::path& path) : path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw Error(fmt::format("cannot open journal {}: {}", path.string(), std::strerror(errno)));
    // A partial line left by a crash must not glue onto the next record.
    const auto size = fs::file_size(path);
    if (size > 0) {
      std::ifstream in(path, std::ios::binary);
      in.seekg(static_cast<std::streamoff>(size) - 1);
      char last = '\n';
      in.get(last);
      if (last != '\n') append("\n");
    }
  }
  ~Journal() {
    if (fd_ >= 0) ::close(fd_);
  }
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  void append(const std::string& line) {
    std::lock_guard<std::mutex> lock(mutex_);
    std::size_t off = 0;
    while (off < line.size()) {
      const ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        throw Error(
            fmt::format("cannot append to journal {}: {}", path_.string(), std::strerror(errno)));
      }
      off += static_cast<std::size_t>(n);
    }
  }

 private:
  fs::path path_;
  int fd_ = -1;
  std::mutex mutex_;
};

std::string output_id(const SynthJob& job, std::size_t index) {
  return fmt::format("{}-{:06d}", job.id_prefix, index);
}

// The manifest row of output `index`, without output_sha256 (filled by the caller).
std::vector<std::string> expected_row(const SynthJob& job, std::size_t index) {
  const auto& s = job.sources[index];
  const std::string id = output_id(job, index);
  return {id,
          s.source_id,
          s.patient_id,
          s.split,
          job.direction,
          job.checkpoint_sha256,
          job.options_hash,
          "images/" + id + ".png",
          ""};
}

// Candidate output hashes per index, from every journal in out_dir/journal whose other fields
// match the job (another checkpoint or options never count).
std::vector<std::vector<std::string>> read_journals(const SynthJob& job) {
  std::vector<std::vector<std::string>> candidates(job.sources.size());
  const fs::path dir = job.out_dir / "journal";
  if (!fs::is_directory(dir)) return candidates;
  std::map<std::string, std::size_t> index_of;
  for (std::size_t i = 0; i < job.sources.size(); ++i) index_of[output_id(job, i)] = i;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".csv") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  const auto& cols = synthetic_manifest_columns();
  for (const auto& file : files) {
    std::string text = read_file(file);
    const auto last_nl = text.rfind('\n');
    text.resize(last_nl == std::string::npos ? 0 : last_nl + 1);  // drop a partial last line
    std::string header = csv_line(cols);
    CsvTable table;
    try {
      table = parse_csv(header + text, file.string());
    } catch (const Error& e) {
      log_warn("ignoring unreadable journal {} (its outputs are redone): {}", file.string(),
               e.full_message());
      continue;
    }
    for (std::size_t r = 0; r < table.size(); ++r) {
      const auto& row = table.row(r);
      if (row.empty() || row[0].empty()) continue;  // blank separator line
      const auto it = index_of.find(row[0]);
      if (it == index_of.end()) continue;
      const auto expected = expected_row(job, it->second);
      if (!std::equal(expected.begin(), expected.end() - 1, row.begin())) continue;
      candidates[it->second].push_back(row.back());
    }
  }
  return candidates;
}

// True when the output file exists and its sha256 is one of the journal's candidates; sets
// `sha` to it.
bool verify_output(const SynthJob& job, std::size_t index,
                   const std::vector<std::string>& candidates, std::string* sha) {
  if (candidates.empty()) return false;
  const fs::path path = job.out_dir / "images" / (output_id(job, index) + ".png");
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  const std::string actual = sha256_file(path);
  if (std::find(candidates.begin(), candidates.end(), actual) == candidates.end()) return false;
  *sha = actual;
  return true;
}

// Restores the thread's autocast state on scope exit.
class CpuBf16Autocast {
 public:
  CpuBf16Autocast()
      : enabled_(at::autocast::is_cpu_enabled()), dtype_(at::autocast::get_autocast_cpu_dtype()) {
    at::autocast::set_cpu_enabled(true);
    at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
  }
  ~CpuBf16Autocast() {
    at::autocast::clear_cache();
    at::autocast::set_cpu_enabled(enabled_);
    at::autocast::set_autocast_cpu_dtype(dtype_);
  }
  CpuBf16Autocast(const CpuBf16Autocast&) = delete;
  CpuBf16Autocast& operator=(const CpuBf16Autocast&) = delete;

 private:
  bool enabled_;
  at::ScalarType dtype_;
};

struct WorkItem {
  std::vector<std::size_t> indices;  // the whole batch, in index order
  std::vector<bool> need;            // which of them to write
};

// Decodes a batch into [n, C, S, S] in [-1, 1].
at::Tensor decode_batch(const SynthJob& job, const WorkItem& item) {
  const int s = job.image_size, c = job.channels;
  const auto n = static_cast<std::int64_t>(item.indices.size());
  at::Tensor batch = torch::empty({n, c, s, s}, torch::kFloat);
  float* dst = batch.data_ptr<float>();
  for (std::int64_t k = 0; k < n; ++k) {
    const auto& src = job.sources[item.indices[static_cast<std::size_t>(k)]];
    with_context(fmt::format("while reading source '{}' ({})", src.source_id, src.path.string()),
                 [&] {
                   cv::Mat img = data::decode_image(src.path);
                   if (img.rows != s || img.cols != s) img = data::resize_square(img, s);
                   const cv::Mat unit = data::to_unit(img);
                   CXRSYNTH_CHECK(unit.type() == CV_32FC1 && unit.isContinuous(),
                                  "unexpected decoded image type {}", unit.type());
                   const float* p = unit.ptr<float>();
                   const std::size_t plane = static_cast<std::size_t>(s) * s;
                   for (int ch = 0; ch < c; ++ch) {
                     float* q = dst + (static_cast<std::size_t>(k) * c + ch) * plane;
                     for (std::size_t j = 0; j < plane; ++j) q[j] = p[j] * 2.0f - 1.0f;
                   }
                 });
  }
  return batch;
}

// Converts output k of `out` ([n, C, S, S], [-1, 1]) to a PNG in memory: channels averaged,
// mapped to [0, 1], clamped and rounded to the bit depth.
std::string encode_png(const at::Tensor& out, std::int64_t k, int bit_depth) {
  const auto c = out.size(1), h = out.size(2), w = out.size(3);
  const float* p = out.data_ptr<float>() + k * c * h * w;
  const std::size_t plane = static_cast<std::size_t>(h * w);
  const double maxv = bit_depth == 16 ? 65535.0 : 255.0;
  cv::Mat m(static_cast<int>(h), static_cast<int>(w), bit_depth == 16 ? CV_16UC1 : CV_8UC1);
  for (std::size_t j = 0; j < plane; ++j) {
    double v = 0;
    for (std::int64_t ch = 0; ch < c; ++ch) v += p[static_cast<std::size_t>(ch) * plane + j];
    v /= static_cast<double>(c);
    double u = (v + 1.0) * 0.5;
    if (!(u >= 0.0)) u = 0.0;  // also maps NaN to 0
    if (u > 1.0) u = 1.0;
    const long q = std::lround(u * maxv);
    if (bit_depth == 16)
      m.at<std::uint16_t>(static_cast<int>(j)) = static_cast<std::uint16_t>(q);
    else
      m.at<std::uint8_t>(static_cast<int>(j)) = static_cast<std::uint8_t>(q);
  }
  std::vector<uchar> buf;
  // OpenCV's PNG encoder writes IHDR/IDAT/IEND only: no text chunks, no time stamp.
  if (!cv::imencode(".png", m, buf)) throw Error("cannot encode PNG");
  return std::string(buf.begin(), buf.end());
}

bool write_manifest_if_complete(const SynthJob& job, std::vector<std::string> known_sha) {
  const auto candidates = read_journals(job);
  std::size_t missing = 0;
  for (std::size_t i = 0; i < job.sources.size(); ++i) {
    if (!known_sha[i].empty()) continue;
    std::string sha;
    if (verify_output(job, i, candidates[i], &sha))
      known_sha[i] = sha;
    else
      ++missing;
  }
  if (missing > 0) {
    log_info("{}: {} of {} outputs not complete yet (other shards?); manifest.csv not written",
             job.out_dir.string(), missing, job.sources.size());
    return false;
  }
  std::string text = csv_line(synthetic_manifest_columns());
  for (std::size_t i = 0; i < job.sources.size(); ++i) {
    auto row = expected_row(job, i);
    row.back() = known_sha[i];
    text += csv_line(row);
  }
  write_file_atomic(job.out_dir / "manifest.csv", text);
  return true;
}

void validate(const SynthJob& job, const SynthOptions& o, Shard shard) {
  if (o.bit_depth != 8 && o.bit_depth != 16)
    throw UsageError(fmt::format("synth.bit_depth = {}: expected 8 or 16", o.bit_depth));
  if (o.precision == "bf16" && !cpu_supports_bf16())
    throw UsageError(
        "synth.precision = bf16: this CPU has no native bf16 (no avx512_bf16/amx_bf16 in "
        "/proc/cpuinfo); use fp32");
  if (o.precision != "fp32" && o.precision != "bf16")
    throw UsageError(fmt::format("synth.precision = '{}': expected fp32 or bf16", o.precision));
  if (shard.count < 1 || shard.index < 0 || shard.index >= shard.count)
    throw UsageError(
        fmt::format("shard {}/{}: expected i/N with 0 <= i < N", shard.index, shard.count));
  if (job.image_size <= 0)
    throw UsageError(fmt::format("image size {}: expected > 0", job.image_size));
  if (job.channels < 1) throw UsageError(fmt::format("channels {}: expected >= 1", job.channels));
  if (job.require_train) {
    for (const auto& s : job.sources) {
      if (s.split != "train")
        throw UsageError(fmt::format(
            "source '{}' is in split '{}': synthesis uses training images only (a synthetic "
            "image made from a {} image would leak it into training)",
            s.source_id, s.split, s.split));
    }
  }
}

}  // namespace

Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  Shard s;
  bool ok = slash != std::string::npos && slash > 0 && slash + 1 < text.size();
  if (ok) {
    try {
      std::size_t p1 = 0, p2 = 0;
      s.index = std::stoi(text.substr(0, slash), &p1);
      s.count = std::stoi(text.substr(slash + 1), &p2);
      ok = p1 == slash && p2 == text.size() - slash - 1;
    } catch (const std::exception&) {
      ok = false;
    }
  }
  if (!ok || s.count < 1 || s.index < 0 || s.index >= s.count)
    throw UsageError(fmt::format("--shard '{}': expected i/N with 0 <= i < N (e.g. 0/4)", text));
  return s;
}

const std::vector<std::string>& synthetic_manifest_columns() {
  static const std::vector<std::string> cols = {"id",           "source_id", "source_patient_id",
                                                "source_split", "direction", "checkpoint_sha256",
                                                "options_hash", "path",      "output_sha256"};
  return cols;
}

std::string options_hash(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string text;
  for (const auto& [k, v] : fields) text += k + "=" + v + "\n";
  return sha256_hex(text);
}

bool cpu_supports_bf16() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    const std::string padded = line + " ";
    return padded.find(" avx512_bf16 ") != std::string::npos ||
           padded.find(" amx_bf16 ") != std::string::npos;
  }
  return false;
}

double psnr_db(const at::Tensor& a, const at::Tensor& b) {
  const double mse = (a.to(torch::kDouble) - b.to(torch::kDouble)).pow(2).mean().item<double>();
  if (mse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(4.0 / mse);  // peak-to-peak 2 in [-1, 1]
}

bool merge_manifest(const SynthJob& job) {
  return with_context("while merging the manifest of " + job.out_dir.string(), [&] {
    return write_manifest_if_complete(job, std::vector<std::string>(job.sources.size()));
  });
}

SynthStats synthesize(const SynthJob& job, const Translator& translate, const SynthOptions& options,
                      Shard shard, const Translator& bf16_translate) {
  validate(job, options, shard);
  SynthStats stats;
  stats.total = static_cast<std::int64_t>(job.sources.size());
  const fs::path images_dir = job.out_dir / "images";
  fs::create_directories(images_dir);
  fs::create_directories(job.out_dir / "journal");
  remove_stale_temp_files(images_dir);

  // What is already done: journal entries whose file verifies.
  const auto candidates = read_journals(job);
  const std::size_t total = job.sources.size();
  const auto bs = static_cast<std::size_t>(options.batch_size);
  std::vector<std::string> known_sha(total);
  std::vector<WorkItem> work;
  std::int64_t to_write = 0;
  for (std::size_t b = 0; b * bs < total; ++b) {
    if (static_cast<int>(b % static_cast<std::size_t>(shard.count)) != shard.index) continue;
    WorkItem item;
    for (std::size_t i = b * bs; i < std::min(total, (b + 1) * bs); ++i) {
      item.indices.push_back(i);
      std::string sha;
      const bool done = verify_output(job, i, candidates[i], &sha);
      if (done) known_sha[i] = sha;
      item.need.push_back(!done);
      ++stats.in_shard;
      if (done)
        ++stats.skipped;
      else
        ++to_write;
    }
    if (std::find(item.need.begin(), item.need.end(), true) != item.need.end())
      work.push_back(std::move(item));
  }
  // manifest.csv exists only for a complete, verified set: a run with work left (another
  // checkpoint, options, or a crash) removes a previous one first.
  if (to_write > 0) {
    std::error_code ec;
    fs::remove(job.out_dir / "manifest.csv", ec);
    if (ec)
      throw Error(fmt::format("cannot remove the stale {}: {}",
                              (job.out_dir / "manifest.csv").string(), ec.message()));
  }
  if (stats.skipped > 0)
    log_info("{}: {} output(s) already complete and verified, skipped", job.out_dir.string(),
             stats.skipped);

  // Test hook (kill-and-rerun test only): sleep this long after each batch.
  const char* delay_env = std::getenv("CXRSYNTH_TEST_SYNTH_BATCH_DELAY_MS");
  const int delay_ms = delay_env ? std::atoi(delay_env) : 0;

  Journal journal(job.out_dir / "journal" /
                  fmt::format("shard-{}-of-{}.csv", shard.index, shard.count));
  std::mutex sha_mutex;
  const bool bf16 = options.precision == "bf16";
  double sq_err = 0, n_err = 0;  // bf16 check, in [-1, 1] units
  std::int64_t checked = 0;

  const auto t0 = std::chrono::steady_clock::now();
  Progress progress(fmt::format("synthesize {} ({})", job.id_prefix, job.direction), to_write,
                    ProgressOptions{10.0, "img"});
  std::int64_t done = 0;
  {
    TaskPool pool(options.workers);
    std::deque<std::future<at::Tensor>> decoded;
    std::deque<std::future<void>> encoded;
    std::size_t next = 0;
    const auto window = static_cast<std::size_t>(options.prefetch_batches);
    for (std::size_t j = 0; j < work.size(); ++j) {
      while (next < work.size() && decoded.size() < window) {
        const WorkItem* item = &work[next++];
        decoded.push_back(pool.submit([&job, item] { return decode_batch(job, *item); }));
      }
      const at::Tensor in = decoded.front().get();
      decoded.pop_front();
      at::Tensor out;
      {
        c10::InferenceMode guard;
        if (bf16) {
          if (bf16_translate) {
            out = bf16_translate(in);
          } else {
            CpuBf16Autocast autocast;
            out = translate(in);
          }
          out = out.to(torch::kFloat).contiguous();
          if (checked < options.bf16_check_images) {
            const auto n = std::min<std::int64_t>(in.size(0), options.bf16_check_images - checked);
            const at::Tensor ref = translate(in.slice(0, 0, n)).to(torch::kFloat);
            const at::Tensor diff = (ref - out.slice(0, 0, n)).to(torch::kDouble);
            sq_err += diff.pow(2).sum().item<double>();
            n_err += static_cast<double>(diff.numel());
            checked += n;
          }
        } else {
          out = translate(in).to(torch::kFloat).contiguous();
        }
      }
      CXRSYNTH_CHECK(out.sizes() == in.sizes(),
                     "the generator returned shape {} for input shape {} (expected the same)",
                     fmt::format("{}", fmt::join(out.sizes(), "x")),
                     fmt::format("{}", fmt::join(in.sizes(), "x")));
      while (encoded.size() >= window) {
        encoded.front().get();
        encoded.pop_front();
      }
      const WorkItem* item = &work[j];
      encoded.push_back(pool.submit([&, item, out] {
        for (std::size_t k = 0; k < item->indices.size(); ++k) {
          if (!item->need[k]) continue;
          const std::size_t index = item->indices[k];
          auto row = expected_row(job, index);
          with_context("while writing " + row[7], [&] {
            const std::string png =
                encode_png(out, static_cast<std::int64_t>(k), options.bit_depth);
            row.back() = sha256_hex(png);
            write_file_atomic(job.out_dir / row[7], png);
            journal.append(csv_line(row));
          });
          std::lock_guard<std::mutex> lock(sha_mutex);
          known_sha[index] = row.back();
        }
      }));
      done += std::count(item->need.begin(), item->need.end(), true);
      progress.update(done);
      if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    }
    while (!encoded.empty()) {
      encoded.front().get();
      encoded.pop_front();
    }
  }
  progress.finish();
  stats.written = done;
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  stats.images_per_s = stats.seconds > 0 ? static_cast<double>(done) / stats.seconds : 0;
  if (n_err > 0) {
    const double mse = sq_err / n_err;
    stats.bf16_psnr_db =
        mse == 0 ? std::numeric_limits<double>::infinity() : 10.0 * std::log10(4.0 / mse);
    log_info("bf16 vs fp32 on the first {} image(s): PSNR {:.2f} dB", checked, *stats.bf16_psnr_db);
  }
  log_info("{}: shard {}/{}: {} written, {} skipped, {:.2f} images/s", job.out_dir.string(),
           shard.index, shard.count, stats.written, stats.skipped, stats.images_per_s);
  stats.manifest_written = with_context("while writing " + (job.out_dir / "manifest.csv").string(),
                                        [&] { return write_manifest_if_complete(job, known_sha); });
  return stats;
}

}  // namespace cxrsynth::synth
