// The run directory: the only place stages exchange data. Paths here are the contract
// (see README "Run directory layout").
#pragma once

#include <filesystem>
#include <string>

namespace cxrsynth {

namespace fs = std::filesystem;

class RunDir {
 public:
  explicit RunDir(fs::path root);

  const fs::path& root() const { return root_; }
  fs::path config_json() const { return root_ / "config.json"; }
  fs::path config_diff() const { return root_ / "config.diff.txt"; }
  fs::path log_file() const { return root_ / "log.jsonl"; }

  fs::path data_dir() const { return root_ / "data"; }
  fs::path manifest() const { return data_dir() / "manifest.csv"; }
  fs::path images_dir() const { return data_dir() / "images"; }
  fs::path data_summary() const { return data_dir() / "summary.json"; }
  fs::path rejected() const { return data_dir() / "rejected.csv"; }

  fs::path gan_dir(const std::string& task) const { return root_ / "gan" / task; }
  fs::path synthetic_dir(const std::string& task) const { return root_ / "synthetic" / task; }
  // Classifier and evaluation folders are per task, training configuration and architecture:
  // train::classifier_output_dir and eval::evaluation_output_dir.
  fs::path report_dir() const { return root_ / "report"; }

  // Creates the root (and parents); throws naming the path when it cannot.
  void create() const;

 private:
  fs::path root_;
};

}  // namespace cxrsynth
