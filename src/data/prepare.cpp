#include "data/prepare.h"

#include <fmt/format.h>

#include <iostream>
#include <set>
#include <unordered_map>

#include "core/atomic_file.h"
#include "core/csv.h"
#include "core/error.h"
#include "core/log.h"
#include "core/seed.h"
#include "data/image_io.h"
#include "data/manifest.h"
#include "data/phantom.h"
#include "data/preprocess.h"
#include "data/sources.h"
#include "data/split.h"
#include "data/summary.h"

namespace cxrsynth::data {
namespace {

void validate(const PrepareOptions& o) {
  if (!o.cohen.enabled && !o.rsna.enabled && !o.folder.enabled && !o.phantom.enabled) {
    throw UsageError(
        "prepare: no data source enabled; set one of data.cohen.enabled, data.rsna.enabled, "
        "data.folder.enabled, data.phantom.enabled to true");
  }
  if (o.test_fraction + o.val_fraction * (1 - o.test_fraction) >= 1.0) {
    throw UsageError(
        fmt::format("data.test_fraction ({}) and data.val_fraction ({}) leave no "
                    "training images",
                    o.test_fraction, o.val_fraction));
  }
}

std::vector<SourceResult> read_sources(const PrepareOptions& o, std::uint64_t seed,
                                       const RunDir& run_dir) {
  std::vector<SourceResult> out;
  if (o.cohen.enabled) {
    out.push_back(with_context("while reading the cohen source (data.cohen)",
                               [&] { return read_cohen(o.cohen, o.skip_bad); }));
  }
  if (o.rsna.enabled) {
    out.push_back(with_context("while reading the rsna source (data.rsna)",
                               [&] { return read_rsna(o.rsna, o.skip_bad); }));
  }
  if (o.folder.enabled) {
    out.push_back(with_context(
        fmt::format("while reading the folder source (data.folder, {})", o.folder.root),
        [&] { return read_folder(o.folder, o.skip_bad); }));
  }
  if (o.phantom.enabled) {
    const fs::path dir = run_dir.data_dir() / "phantom";
    log_info("phantom: generating {} normal, {} pneumonia, {} covid images into {}",
             o.phantom.n_normal, o.phantom.n_pneumonia, o.phantom.n_covid, dir.string());
    write_phantom_dataset(o.phantom, derive_seed(seed, "data/phantom"), dir);
    FolderOptions f;
    f.enabled = true;
    f.root = dir.string();
    f.labels_csv = "labels.csv";
    f.name = "phantom";
    SourceResult r = read_folder(f, o.skip_bad);
    // Generated inside the run: recorded relative to R/data/, so manifests of two run
    // directories with the same options and seed are byte-identical.
    for (auto& c : r.candidates) {
      c.row.original_path = fs::relative(c.file, run_dir.data_dir()).generic_string();
    }
    out.push_back(std::move(r));
  }
  return out;
}

// Missing image files: an error listing the count and the first names, or (skip_missing)
// counted per source and listed in rejected.csv.
void handle_missing(std::vector<SourceResult>& sources, bool skip_missing) {
  std::int64_t total = 0;
  std::vector<std::string> names;
  for (auto& s : sources) {
    std::vector<Candidate> kept;
    std::int64_t missing = 0;
    for (auto& c : s.candidates) {
      std::error_code ec;
      if (fs::exists(c.file, ec)) {
        kept.push_back(std::move(c));
        continue;
      }
      ++missing;
      ++total;
      if (names.size() < 5) names.push_back(c.file.string());
      if (s.missing_examples.size() < 5) s.missing_examples.push_back(c.file.string());
    }
    s.candidates = std::move(kept);  // without skip_missing, missing files throw below
    if (skip_missing) s.count("missing_file", missing);
  }
  if (total > 0 && !skip_missing) {
    throw Error(
        fmt::format("{} image file(s) listed by the sources do not exist: {}{}; pass "
                    "--skip-missing (data.skip_missing) to leave them out",
                    total, fmt::join(names, ", "), total > 5 ? ", ..." : ""));
  }
  if (total > 0)
    log_warn("skip_missing: {} image file(s) missing, left out (e.g. {})", total, names.front());
}

// Makes ids unique across sources, deterministically (a "-2", "-3" suffix in row order).
void unique_ids(std::vector<SourceResult>& sources) {
  std::unordered_map<std::string, int> seen;
  for (auto& s : sources) {
    for (auto& c : s.candidates) {
      std::string id = c.row.id;
      for (int k = 2; !seen.emplace(id, 1).second; ++k) id = c.row.id + "-" + std::to_string(k);
      c.row.id = id;
      c.row.path = "images/" + id + ".png";
    }
  }
}

}  // namespace

void run_prepare(const PrepareOptions& o, std::uint64_t seed, const RunDir& run_dir, int threads) {
  validate(o);
  if (o.phantom.enabled) {
    validate_phantom_options(o.phantom);
    if (o.phantom.image_size < o.image_size) {
      log_warn(
          "data.phantom.image_size ({}) < data.image_size ({}): phantoms are upsampled; set "
          "both to the same size",
          o.phantom.image_size, o.image_size);
    }
  }
  const fs::path data_dir = run_dir.data_dir();
  // Images are written into a staging folder and swapped in only when everything succeeded:
  // a prepare that fails (a bad image, a bad CSV row, a full disk) leaves the previous
  // manifest, summary and images of this run directory as they were.
  const fs::path staging = data_dir / ".prepare-staging";
  std::error_code ec;
  fs::remove_all(staging, ec);  // left over by an interrupted prepare
  fs::create_directories(staging / "images");
  struct RemoveStaging {
    fs::path dir;
    ~RemoveStaging() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } remove_staging{staging};

  std::vector<SourceResult> sources = read_sources(o, seed, run_dir);
  handle_missing(sources, o.skip_missing);
  unique_ids(sources);

  std::vector<ManifestRow> rows;
  std::vector<std::string> thumbs;
  std::vector<SourceSummary> summaries;
  for (auto& s : sources) {
    const std::vector<Processed> done =
        process_candidates(s.candidates, o.image_size, staging, threads);
    SourceSummary sum;
    s.count("view", 0);
    for (std::size_t i = 0; i < done.size(); ++i) {
      const Candidate& c = s.candidates[i];
      const Processed& p = done[i];
      if (p.view_filtered) {
        s.count("view");
        continue;
      }
      if (!p.ok) {
        if (!o.skip_bad) throw Error(fmt::format("{}: {}", c.where, p.error));
        s.rejected.push_back({s.name, c.where, c.file.string(), p.error});
        continue;
      }
      ManifestRow r = c.row;
      r.width = p.width;
      r.height = p.height;
      r.bit_depth = p.bit_depth;
      r.sha256 = p.sha256;
      if (r.view.empty()) r.view = p.view;
      rows.push_back(std::move(r));
      thumbs.push_back(p.thumb);
      ++sum.kept;
    }
    sum.name = s.name;
    sum.input_rows = s.input_rows;
    sum.filtered = s.filtered;
    sum.rejected = static_cast<std::int64_t>(s.rejected.size());
    sum.missing_examples = s.missing_examples;
    summaries.push_back(std::move(sum));
  }
  if (rows.empty())
    throw Error("prepare: every input row was filtered or rejected; no images left");

  const SplitReport split =
      assign_splits(rows, thumbs, o.split, o.test_fraction, o.val_fraction, seed);
  const auto gan = assign_gan_subsets(rows, o.gan_per_domain, seed);
  for (const auto& g : gan) {
    if (g.chosen < o.gan_per_domain) {
      log_warn("gan subset {}: only {} {} training image(s) for {} requested", g.task, g.available,
               g.label, o.gan_per_domain);
    }
  }
  if (split.duplicates.clusters > 0) {
    log_warn(
        "{} group(s) of duplicate images ({} rows, {} across sources, {} across patient "
        "ids), kept in one split each; e.g. {}",
        split.duplicates.clusters, split.duplicates.rows, split.duplicates.cross_source,
        split.duplicates.cross_patient, split.duplicates.examples.front());
  }

  std::string rejected = csv_line({"source", "where", "file", "reason"});
  for (const auto& s : sources) {
    for (const auto& r : s.rejected) rejected += csv_line({r.source, r.where, r.file, r.reason});
  }
  const PrepareSummary summary = summarise(o, seed, summaries, split, gan, rows);
  // Swap the images in, then write the manifest; when the manifest cannot be written, the
  // previous images go back.
  const fs::path old_images = data_dir / ".prepare-old-images";
  fs::remove_all(old_images, ec);
  const bool had_images = fs::exists(run_dir.images_dir());
  auto move = [](const fs::path& from, const fs::path& to) {
    std::error_code e;
    fs::rename(from, to, e);
    if (e) {
      throw Error(fmt::format("prepare: cannot rename {} to {}: {}", from.string(), to.string(),
                              e.message()));
    }
  };
  if (had_images) move(run_dir.images_dir(), old_images);
  move(staging / "images", run_dir.images_dir());
  try {
    write_manifest(run_dir.manifest(), rows);
  } catch (...) {
    std::error_code ignored;
    fs::rename(run_dir.images_dir(), staging / "images", ignored);
    if (had_images) fs::rename(old_images, run_dir.images_dir(), ignored);
    throw;
  }
  fs::remove_all(old_images, ec);
  sync_filesystem(data_dir);  // the renames above
  write_file_atomic(run_dir.rejected(), rejected);
  write_file_atomic(run_dir.data_summary(), summary_json(summary));
  std::cout << summary_table(summary);
  log_info("prepare: {} images in {}", rows.size(), run_dir.manifest().string());
}

}  // namespace cxrsynth::data
