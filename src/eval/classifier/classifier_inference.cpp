#include "eval/classifier/classifier_inference.h"

#include <torch/torch.h>

#include <numeric>

#include "train/classifier/classifier_batch.h"

namespace cxrsynth::eval {

InferenceResult run_classifier(models::ClassifierNetImpl& net,
                               const std::vector<train::ClassifierSample>& samples, int image_size,
                               int batch_size, bool with_features) {
  torch::NoGradGuard no_grad;
  net.eval();
  InferenceResult out;
  std::vector<torch::Tensor> features;
  for (std::size_t start = 0; start < samples.size(); start += batch_size) {
    const std::size_t end = std::min(samples.size(), start + static_cast<std::size_t>(batch_size));
    std::vector<std::size_t> idx(end - start);
    std::iota(idx.begin(), idx.end(), start);
    const auto x =
        train::load_classifier_batch(samples, idx, image_size, net.options().in_channels);
    const auto f = net.pooled_features(x);
    const auto p = torch::softmax(net.head(f), 1).select(1, 1).to(torch::kFloat64).contiguous();
    out.p_covid.insert(out.p_covid.end(), p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
    if (with_features) features.push_back(f);
  }
  if (with_features && !features.empty()) out.features = torch::cat(features);
  return out;
}

}  // namespace cxrsynth::eval

#include "core/error.h"
#include "models/classifiers/weights_io.h"

namespace cxrsynth::eval {

std::vector<double> predict_files(const std::filesystem::path& checkpoint,
                                  const std::vector<std::filesystem::path>& files, int batch_size) {
  auto file = checkpoint;
  if (std::filesystem::is_directory(file)) file /= "model.pt";
  auto model = models::load_classifier_file(file);
  const auto it = model.metadata.find("image_size");
  if (it == model.metadata.end()) {
    throw Error(
        fmt::format("{} does not record its input size (metadata 'image_size'); "
                    "expected a model.pt written by train-classifier",
                    file.string()));
  }
  std::vector<train::ClassifierSample> samples;
  for (const auto& f : files) {
    if (!std::filesystem::exists(f)) throw UsageError(fmt::format("{}: no such file", f.string()));
    samples.push_back({f.string(), "", f, 0, "input"});
  }
  return run_classifier(*model.net, samples, std::stoi(it->second), batch_size, false).p_covid;
}

}  // namespace cxrsynth::eval
