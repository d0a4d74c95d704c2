// Data-parallel `train-classifier` (train::run_train_classifier in two forked ranks with
// torchrun's variables, Gloo on loopback) against the computation they must perform, done
// here in one process.
//
// Why not against a one-process run with batch 2b: the classifiers have BatchNorm, whose
// training-mode statistics are those of the batch a process sees (b images per rank, not 2b),
// so the two are different computations (as in PyTorch DDP without SyncBatchNorm). What data
// parallelism must equal is: per step, each rank's gradient on its slice of the global batch
// (with its own batch statistics), averaged, then one Adadelta step; BatchNorm running
// statistics are rank 0's. This test computes exactly that, sequentially, with the library's
// own network, loader, loss and optimizer, and compares every weight and buffer (1e-5).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <numeric>

#include "config/config_io.h"
#include "core/csv.h"
#include "core/log.h"
#include "core/runtime.h"
#include "core/seed.h"
#include "dist/fork_ranks.h"
#include "models/classifiers/classifier.h"
#include "models/classifiers/weights_io.h"
#include "support/temp_dir.h"
#include "train/checkpoint.h"
#include "train/classifier/adadelta.h"
#include "train/classifier/classifier_batch.h"
#include "train/classifier/classifier_data.h"
#include "train/classifier/classifier_loss.h"
#include "train/classifier/classifier_trainer.h"
#include "train/classifier/phantom_run.h"

using namespace cxrsynth;
namespace ct = cxrsynth::testing;
namespace fs = std::filesystem;

namespace {

constexpr int kPerRankBatch = 3, kWorld = 2, kSteps = 3;

models::ClassifierModelOptions tiny_densenet() {
  models::ClassifierModelOptions m;
  m.arch = "densenet";
  m.densenet_growth_rate = 4;
  m.densenet_block_config = {2, 2};
  m.densenet_init_features = 8;
  m.densenet_bn_size = 2;
  return m;
}

// The weights after kSteps data-parallel steps of epoch 1, computed in this process.
std::map<std::string, torch::Tensor> expected_state(const RunDir& run, std::uint64_t seed) {
  const auto data = train::classifier_data_from_manifest(run, "normal-vs-covid");
  const auto& samples = data.train;
  const std::string name = "classifier/normal-vs-covid/real/densenet";
  torch::manual_seed(derive_seed(seed, name + "/init"));
  auto net = models::make_classifier(tiny_densenet());
  const auto params = net->parameters();
  train::Adadelta opt(params, 1.0, 0.95, 1e-7);
  // Epoch 1's order, as the trainer draws it.
  const std::size_t n = samples.size();
  Rng rng(derive_seed(seed, fmt::format("{}/epoch/{}", name, 1)));
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (std::size_t i = n; i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
  net->train();
  const std::size_t global = kPerRankBatch * kWorld;
  for (int step = 0; step < kSteps; ++step) {
    std::vector<torch::Tensor> grad_sum(params.size());
    const auto buffers_before = models::classifier_state(*net);
    std::map<std::string, torch::Tensor> saved;
    for (const auto& [k, v] : buffers_before) saved[k] = v.detach().clone();
    std::map<std::string, torch::Tensor> rank0_state;
    for (int rank = kWorld - 1; rank >= 0; --rank) {  // rank 0 last: its buffers remain
      {
        torch::NoGradGuard no_grad;
        for (auto& [k, v] : models::classifier_state(*net)) v.copy_(saved.at(k));
      }
      std::vector<std::size_t> idx;
      for (int k = rank * kPerRankBatch; k < (rank + 1) * kPerRankBatch; ++k)
        idx.push_back(order[(step * global + k) % n]);
      std::vector<std::int64_t> labels;
      for (auto i : idx) labels.push_back(samples[i].label);
      opt.zero_grad();
      const auto x = train::load_classifier_batch(samples, idx, 32, 1);
      const auto loss =
          train::bce_on_softmax(net->forward(x), torch::tensor(labels, torch::kInt64)).mean();
      loss.backward();
      for (std::size_t i = 0; i < params.size(); ++i) {
        const auto g = params[i].grad().detach().clone();
        grad_sum[i] = grad_sum[i].defined() ? grad_sum[i] + g : g;
      }
    }
    for (std::size_t i = 0; i < params.size(); ++i)
      const_cast<torch::Tensor&>(params[i]).mutable_grad().copy_(grad_sum[i] / kWorld);
    opt.step();
  }
  std::map<std::string, torch::Tensor> out;
  for (const auto& [k, v] : models::classifier_state(*net)) out[k] = v.detach().clone();
  return out;
}

// `train-classifier --config <config>` in a (forked) rank.
bool train_classifier(const RunDir& run, const fs::path& config,
                      const std::vector<std::string>& sets) {
  const Config cfg = config::load({config.string()}, sets);
  apply_threads(1);
  set_log_level(LogLevel::kQuiet);
  train::run_train_classifier(cfg.classifier, "normal-vs-covid", "real",
                              static_cast<std::uint64_t>(cfg.run.seed), run);
  return true;
}

}  // namespace

TEST(DistTrain, TwoClassifierRanksDoTheDataParallelComputation) {
  ct::TempDir tmp;
  const RunDir run(tmp / "run");
  train::write_phantom_run(run, {{"train", 7}, {"val", 3}}, 32, 0.15, 0.3);
  ct::write_text(tmp / "tiny.json", fmt::format(R"({{
  "run": {{"seed": 5}},
  "classifier": {{
    "model": {{"arch": "densenet", "densenet_growth_rate": 4, "densenet_block_config": [2, 2],
              "densenet_init_features": 8, "densenet_bn_size": 2}},
    "image_size": 32, "batch_size": {}, "max_epochs": 1, "steps_per_epoch": {}, "lr": 1.0,
    "rho": 0.95, "eps": 1e-7, "flip": false, "class_weights": "none"
  }}
}})",
                                                kPerRankBatch, kSteps));
  fs::create_directories(tmp / "a");
  fs::create_directories(tmp / "b");
  const auto ranks = ct::start_ranks(
      2, tmp / "a", 60, [&](int) { return train_classifier(run, tmp / "tiny.json", {}); });
  ASSERT_EQ(ct::wait_all(ranks, 300), (std::vector<int>{0, 0}))
      << ranks.output(0) << ranks.output(1);
  const auto dir = run.root() / "classifiers/normal-vs-covid/real/densenet";
  const auto ckpt = train::StateArchive::load(dir / "checkpoint.state");
  EXPECT_EQ(ckpt.integer("world_size"), 2);
  EXPECT_EQ(ckpt.integer("epoch"), 1);

  const auto expected = expected_state(run, 5);
  double worst = 0;
  for (const auto& [k, v] : expected) {
    ASSERT_TRUE(ckpt.has("model/" + k)) << k;
    const auto got = ckpt.tensor("model/" + k);
    ASSERT_EQ(got.sizes(), v.sizes()) << k;
    const double d = (got.to(torch::kDouble) - v.to(torch::kDouble)).abs().max().item<double>();
    EXPECT_LE(d, 1e-5) << k;
    worst = std::max(worst, d);
  }
  std::cout << "[ dist ] classifier: max |w_2proc - w_expected| = " << worst << " over "
            << expected.size() << " tensors after " << kSteps << " steps\n";
  EXPECT_EQ(read_csv(dir / "history.csv").size(), 1u);

  // Resuming with one process is refused, naming both counts.
  const auto one = ct::start_ranks(0, tmp / "b", 60, [&](int) {
    return train_classifier(run, tmp / "tiny.json", {"classifier.max_epochs=2"});
  });
  EXPECT_EQ(ct::wait_all(one, 120), std::vector<int>{2}) << one.output(0);
  EXPECT_NE(one.output(0).find("written by 2 process(es)"), std::string::npos) << one.output(0);
}
