#include "models/bgt/bagged_trees.h"

#include <opencv2/core.hpp>
#include <opencv2/ml.hpp>

#include <cmath>
#include <limits>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/seed.h"
#include "core/sha256.h"

namespace cxrsynth::models {
namespace {

constexpr const char* kFormat = "cxrsynth-bagged-trees/1";

// One member of the ensemble: a grown tree, or a constant vote when its bootstrap sample
// held a single class.
struct Tree {
  int constant = -1;  // -1: use `tree`; 0 or 1: always this class
  cv::Ptr<cv::ml::DTrees> tree;
};

cv::Ptr<cv::ml::DTrees> make_tree(const BaggedTreesParams& p) {
  auto t = cv::ml::DTrees::create();
  t->setMaxDepth(p.max_depth);
  t->setMinSampleCount(p.min_samples_split);
  t->setCVFolds(0);  // no cost-complexity pruning: bagging averages unpruned trees
  t->setUseSurrogates(false);
  t->setUse1SERule(false);
  t->setTruncatePrunedTree(false);
  t->setRegressionAccuracy(0);
  t->setMaxCategories(2);
  if (!p.class_weights.empty()) {
    cv::Mat priors(1, 2, CV_32F);
    priors.at<float>(0) = static_cast<float>(p.class_weights[0]);
    priors.at<float>(1) = static_cast<float>(p.class_weights[1]);
    t->setPriors(priors);
  }
  return t;
}

cv::Mat as_mat(const FeatureMatrix& x) {
  // A header over the caller's buffer (read-only use).
  return cv::Mat(static_cast<int>(x.rows), static_cast<int>(x.cols), CV_32F,
                 const_cast<float*>(x.values.data()));
}

// Class (0/1) that `tree` votes for on each row of x.
std::vector<int> votes_of(const Tree& t, const cv::Mat& x) {
  std::vector<int> out(static_cast<std::size_t>(x.rows), t.constant);
  if (t.constant >= 0) return out;
  cv::Mat pred;
  t.tree->predict(x, pred);
  for (int i = 0; i < x.rows; ++i) out[static_cast<std::size_t>(i)] = pred.at<float>(i) > 0.5f;
  return out;
}

}  // namespace

struct BaggedTrees::Impl {
  std::size_t features = 0;
  BaggedTreesParams params;
  std::vector<Tree> trees;
  std::vector<double> oob;
};

BaggedTrees::BaggedTrees() : impl_(std::make_unique<Impl>()) {}
BaggedTrees::~BaggedTrees() = default;
BaggedTrees::BaggedTrees(BaggedTrees&&) noexcept = default;
BaggedTrees& BaggedTrees::operator=(BaggedTrees&&) noexcept = default;

BaggedTrees BaggedTrees::fit(const FeatureMatrix& x, const std::vector<int>& labels,
                             const BaggedTreesParams& params, std::uint64_t seed, int threads,
                             const std::string& label,
                             const std::function<void(std::size_t)>& on_progress) {
  const std::size_t n = x.rows;
  if (n == 0 || x.cols == 0) {
    throw UsageError(
        fmt::format("{}: no training rows or no features ({} x {})", label, n, x.cols));
  }
  CXRSYNTH_CHECK(x.values.size() == n * x.cols, "{}: feature buffer holds {} values, expected {}",
                 label, x.values.size(), n * x.cols);
  if (labels.size() != n) {
    throw UsageError(fmt::format("{}: {} labels for {} feature rows", label, labels.size(), n));
  }
  if (params.trees < 1) {
    throw UsageError(fmt::format("{}: tree count is {}; expected >= 1", label, params.trees));
  }
  if (!params.class_weights.empty() && params.class_weights.size() != 2) {
    throw UsageError(fmt::format("{}: {} class weights; expected 2 (negative, positive)", label,
                                 params.class_weights.size()));
  }
  std::size_t pos = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (labels[i] != 0 && labels[i] != 1) {
      throw UsageError(
          fmt::format("{}: row {} has label {}; expected 0 or 1", label, i, labels[i]));
    }
    pos += static_cast<std::size_t>(labels[i]);
    for (std::size_t k = 0; k < x.cols; ++k) {
      if (!std::isfinite(x.values[i * x.cols + k])) {
        throw UsageError(fmt::format("{}: row {} feature {} is not finite ({})", label, i, k,
                                     x.values[i * x.cols + k]));
      }
    }
  }
  if (pos == 0 || pos == n) {
    throw UsageError(fmt::format("{}: the training rows hold a single class ({} positives of {})",
                                 label, pos, n));
  }

  BaggedTrees out;
  out.impl_->features = x.cols;
  out.impl_->params = params;
  out.impl_->trees.resize(static_cast<std::size_t>(params.trees));
  // in_bag[t][i]: how often tree t drew row i (for the out-of-bag estimate).
  std::vector<std::vector<std::uint32_t>> in_bag(static_cast<std::size_t>(params.trees));
  const cv::Mat all = as_mat(x);
  parallel_for(
      static_cast<std::size_t>(params.trees), threads,
      [&](std::size_t t) {
        Rng rng(derive_seed(seed, fmt::format("tree/{}", t)));
        auto& counts = in_bag[t];
        counts.assign(n, 0);
        cv::Mat xs(static_cast<int>(n), static_cast<int>(x.cols), CV_32F);
        cv::Mat ys(static_cast<int>(n), 1, CV_32S);
        std::size_t pos_drawn = 0;
        for (std::size_t j = 0; j < n; ++j) {
          const std::size_t i = rng.below(n);  // a bootstrap draw: n rows with replacement
          ++counts[i];
          all.row(static_cast<int>(i)).copyTo(xs.row(static_cast<int>(j)));
          ys.at<int>(static_cast<int>(j)) = labels[i];
          pos_drawn += static_cast<std::size_t>(labels[i]);
        }
        Tree& tree = out.impl_->trees[t];
        if (pos_drawn == 0 || pos_drawn == n) {
          tree.constant = pos_drawn == 0 ? 0 : 1;
          return;
        }
        tree.tree = make_tree(params);
        try {
          if (!tree.tree->train(cv::ml::TrainData::create(xs, cv::ml::ROW_SAMPLE, ys))) {
            throw Error(fmt::format("{}: OpenCV could not grow tree {}", label, t));
          }
        } catch (const cv::Exception& e) {
          throw Error(fmt::format("{}: OpenCV failed growing tree {}: {}", label, t, e.what()));
        }
      },
      on_progress);

  // Out-of-bag estimate: each row voted on by the trees that never drew it.
  std::vector<int> oob_pos(n, 0), oob_n(n, 0);
  for (std::size_t t = 0; t < out.impl_->trees.size(); ++t) {
    const auto v = votes_of(out.impl_->trees[t], all);
    for (std::size_t i = 0; i < n; ++i) {
      if (in_bag[t][i] == 0) {
        oob_pos[i] += v[i];
        ++oob_n[i];
      }
    }
  }
  out.impl_->oob.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    out.impl_->oob[i] = oob_n[i] ? static_cast<double>(oob_pos[i]) / oob_n[i]
                                 : std::numeric_limits<double>::quiet_NaN();
  }
  return out;
}

std::vector<int> BaggedTrees::positive_votes(const FeatureMatrix& x) const {
  if (x.cols != impl_->features) {
    throw Error(fmt::format("bagged trees: rows have {} features; the ensemble was fitted on {}",
                            x.cols, impl_->features));
  }
  CXRSYNTH_CHECK(x.values.size() == x.rows * x.cols, "feature buffer holds {} values, expected {}",
                 x.values.size(), x.rows * x.cols);
  std::vector<int> votes(x.rows, 0);
  if (x.rows == 0) return votes;
  const cv::Mat m = as_mat(x);
  for (const auto& t : impl_->trees) {
    const auto v = votes_of(t, m);
    for (std::size_t i = 0; i < x.rows; ++i) votes[i] += v[i];
  }
  return votes;
}

std::vector<double> BaggedTrees::predict_proba(const FeatureMatrix& x) const {
  const auto votes = positive_votes(x);
  std::vector<double> p(votes.size());
  const double t = static_cast<double>(tree_count());
  for (std::size_t i = 0; i < votes.size(); ++i) p[i] = votes[i] / t;
  return p;
}

const std::vector<double>& BaggedTrees::oob_proba() const {
  return impl_->oob;
}
std::size_t BaggedTrees::tree_count() const {
  return impl_->trees.size();
}
std::size_t BaggedTrees::feature_count() const {
  return impl_->features;
}
std::size_t BaggedTrees::constant_tree_count() const {
  std::size_t c = 0;
  for (const auto& t : impl_->trees) c += t.constant >= 0;
  return c;
}

std::string BaggedTrees::serialize() const {
  try {
    cv::FileStorage fs(".yml", cv::FileStorage::WRITE | cv::FileStorage::MEMORY);
    fs << "format" << kFormat;
    fs << "trees" << static_cast<int>(impl_->trees.size());
    fs << "features" << static_cast<int>(impl_->features);
    for (std::size_t t = 0; t < impl_->trees.size(); ++t) {
      const auto& tree = impl_->trees[t];
      fs << fmt::format("tree_{}", t) << "{";
      fs << "constant" << tree.constant;
      if (tree.constant < 0) tree.tree->write(fs);
      fs << "}";
    }
    return fs.releaseAndGetString();
  } catch (const cv::Exception& e) {
    throw Error(fmt::format("bagged trees: OpenCV could not serialise the ensemble: {}", e.what()));
  }
}

BaggedTrees BaggedTrees::deserialize(const std::string& text, const std::string& what) {
  const auto bad = [&](const std::string& why) {
    return Error(
        fmt::format("{}: not a cxrsynth bagged-trees ensemble ({}); re-run "
                    "train-classifier to rebuild it",
                    what, why));
  };
  BaggedTrees out;
  try {
    cv::FileStorage fs(text, cv::FileStorage::READ | cv::FileStorage::MEMORY);
    if (!fs.isOpened()) throw bad("OpenCV cannot parse it");
    if (fs["format"].empty() || fs["format"].string() != kFormat) {
      throw bad(fmt::format("format is '{}', expected '{}'",
                            fs["format"].empty() ? "" : fs["format"].string(), kFormat));
    }
    const int trees = static_cast<int>(fs["trees"]);
    const int features = static_cast<int>(fs["features"]);
    if (trees < 1 || features < 1) {
      throw bad(fmt::format("{} trees on {} features", trees, features));
    }
    out.impl_->features = static_cast<std::size_t>(features);
    out.impl_->trees.resize(static_cast<std::size_t>(trees));
    for (int t = 0; t < trees; ++t) {
      const auto node = fs[fmt::format("tree_{}", t)];
      if (node.empty()) throw bad(fmt::format("tree_{} is missing", t));
      auto& tree = out.impl_->trees[static_cast<std::size_t>(t)];
      tree.constant = static_cast<int>(node["constant"]);
      if (tree.constant > 1 || tree.constant < -1) {
        throw bad(fmt::format("tree_{} constant is {}", t, tree.constant));
      }
      if (tree.constant >= 0) continue;
      tree.tree = cv::ml::DTrees::create();
      tree.tree->read(node);
      if (!tree.tree->isTrained() || tree.tree->getVarCount() != features) {
        throw bad(fmt::format("tree_{} is empty or has {} inputs", t, tree.tree->getVarCount()));
      }
    }
  } catch (const cv::Exception& e) {
    throw bad(fmt::format("OpenCV: {}", e.what()));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw bad(e.what());
  }
  return out;
}

std::string BaggedTrees::save(const std::filesystem::path& file) const {
  const auto text = serialize();
  write_file_atomic(file, text);
  return sha256_hex(text);
}

BaggedTrees BaggedTrees::load(const std::filesystem::path& file,
                              const std::string& expected_sha256) {
  if (!std::filesystem::exists(file)) {
    throw Error(
        fmt::format("bagged-trees ensemble {} not found; re-run train-classifier", file.string()));
  }
  const auto text = read_file(file);
  if (!expected_sha256.empty()) {
    const auto actual = sha256_hex(text);
    if (actual != expected_sha256) {
      throw Error(fmt::format(
          "bagged-trees ensemble {} is corrupted or was replaced: its SHA-256 is {}, the "
          "model descriptor expects {}; re-run train-classifier",
          file.string(), actual, expected_sha256));
    }
  }
  return deserialize(text, file.string());
}

}  // namespace cxrsynth::models
