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
#include "train/classifier/bgt_trainer.h"

namespace cxrsynth::eval {

std::filesystem::path trained_model_file(const std::filesystem::path& classifier_dir,
                                         const std::string& arch) {
  return classifier_dir / (models::is_bgt_arch(arch) ? train::kBgtDescriptorFile : "model.pt");
}

ScoringModel load_scoring_model(const std::filesystem::path& file_or_dir) {
  ScoringModel m;
  if (train::is_bgt_model_path(file_or_dir)) {
    m.bgt = std::make_shared<train::BgtModel>(train::load_bgt_model(file_or_dir));
    m.file = m.bgt->descriptor;
    m.metadata = m.bgt->metadata;
    return m;
  }
  m.file = file_or_dir;
  if (std::filesystem::is_directory(m.file)) m.file /= "model.pt";
  auto loaded = models::load_classifier_file(m.file);
  m.net = loaded.net;
  m.metadata = std::move(loaded.metadata);
  return m;
}

InferenceResult run_classifier(ScoringModel& model,
                               const std::vector<train::ClassifierSample>& samples, int image_size,
                               int batch_size, bool with_features) {
  if (model.net) return run_classifier(*model.net, samples, image_size, batch_size, with_features);
  CXRSYNTH_CHECK(model.bgt, "{}: no model loaded", model.file.string());
  if (image_size != 0 && image_size != model.bgt->image_size) {
    throw Error(fmt::format("{}: the trees were fitted on features of {} px images, not {} px",
                            model.file.string(), model.bgt->image_size, image_size));
  }
  auto scores = train::score_bgt(*model.bgt, samples, batch_size);
  InferenceResult out;
  out.p_covid = std::move(scores.p_covid);
  if (with_features) out.features = scores.features;
  return out;
}

std::vector<double> predict_files(const std::filesystem::path& checkpoint,
                                  const std::vector<std::filesystem::path>& files, int batch_size) {
  auto model = load_scoring_model(checkpoint);
  const auto& file = model.file;
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
  return run_classifier(model, samples, std::stoi(it->second), batch_size, false).p_covid;
}

}  // namespace cxrsynth::eval
