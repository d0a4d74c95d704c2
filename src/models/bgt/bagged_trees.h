// A bagging ensemble of decision trees (Breiman's bagging) on fixed feature vectors: the
// classifier of the paper's "DenseNet-121 + BGT" (sec. 4, after Kassani et al. 2020).
//
// Bagging, exactly: tree t is grown on its own bootstrap sample of the training rows (n draws
// with replacement, drawn with Rng(derive_seed(seed, "tree/<t>"))), considering EVERY feature at
// every split (no random feature subsets: that would be a random forest). Each tree is an
// unpruned OpenCV cv::ml::DTrees (CVFolds 0, no surrogates, Gini impurity). A bootstrap sample
// that holds only one class gives a tree that always votes for that class (OpenCV cannot grow a
// tree on one class). P(COVID-19) = fraction of the trees voting for class 1.
//
// Why our own bootstrap over cv::ml::DTrees instead of cv::ml::RTrees with all features active:
// RTrees draws its bootstrap from OpenCV's process-wide cv::theRNG() and stops adding trees on
// its out-of-bag error criterion unless told otherwise; our per-tree seeds make each tree
// depend only on (seed, t) and the data, so results are identical for any thread count and
// trees can be grown in parallel.
//
// File format (save/load): OpenCV FileStorage YAML text holding format, tree and feature
// counts, and one node per tree ("tree_<t>": {constant: -1 | class, and the DTrees model}).
// save() returns the file's SHA-256; load() verifies it before parsing, so a corrupted or
// replaced file is refused naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace cxrsynth::models {

struct BaggedTreesParams {
  int trees = 100;                    // ensemble size
  int min_samples_split = 2;          // a node with fewer rows is a leaf (2 = grown until pure)
  int max_depth = 25;                 // OpenCV's DTrees caps depth at 25
  std::vector<double> class_weights;  // empty = none; else {w0, w1}: OpenCV class priors
};

// Row-major features: n rows of c floats.
struct FeatureMatrix {
  std::size_t rows = 0, cols = 0;
  std::vector<float> values;  // rows * cols
};

class BaggedTrees {
 public:
  BaggedTrees();
  ~BaggedTrees();
  BaggedTrees(BaggedTrees&&) noexcept;
  BaggedTrees& operator=(BaggedTrees&&) noexcept;

  // Grows params.trees trees on (x, labels in {0, 1}) on up to `threads` threads (<= 0: all
  // cores); the result does not depend on `threads`. `on_progress(trees grown)` is called on
  // the calling thread. Throws UsageError on empty data, a
  // label outside {0, 1}, a single class, or non-finite features (naming the row).
  static BaggedTrees fit(const FeatureMatrix& x, const std::vector<int>& labels,
                         const BaggedTreesParams& params, std::uint64_t seed, int threads,
                         const std::string& label = "bagged trees",
                         const std::function<void(std::size_t)>& on_progress = {});

  // Number of trees voting for class 1, per row of x (x.cols must equal feature_count()).
  std::vector<int> positive_votes(const FeatureMatrix& x) const;
  // positive_votes / tree_count: P(class 1).
  std::vector<double> predict_proba(const FeatureMatrix& x) const;
  // Out-of-bag P(class 1) of each training row (votes of the trees whose bootstrap sample
  // missed the row); NaN for a row every tree saw. Empty after load().
  const std::vector<double>& oob_proba() const;

  std::size_t tree_count() const;
  std::size_t feature_count() const;
  // Trees that are a constant vote (their bootstrap sample held one class).
  std::size_t constant_tree_count() const;

  std::string serialize() const;
  static BaggedTrees deserialize(const std::string& text, const std::string& what);
  // Atomic write; returns the SHA-256 (hex) of the written bytes.
  std::string save(const std::filesystem::path& file) const;
  // Throws cxrsynth::Error naming `file` when it is missing, its SHA-256 differs from
  // `expected_sha256` (when not empty), or it does not parse as an ensemble.
  static BaggedTrees load(const std::filesystem::path& file,
                          const std::string& expected_sha256 = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cxrsynth::models
