#include "train/classifier/classifier_batch.h"

#include <torch/torch.h>

#include "core/error.h"
#include "data/image_io.h"
#include "data/preprocess.h"

namespace cxrsynth::train {

torch::Tensor load_classifier_image(const std::filesystem::path& path, int image_size,
                                    int in_channels) {
  // As `prepare` stores images (resize_square, depth kept) and load_image_unit reads them, so a
  // raw PNG/JPEG/DICOM given to `predict` is preprocessed like the training images.
  cv::Mat img = data::decode_image(path);  // one channel, CV_8U or CV_16U
  if (image_size > 0 && (img.cols != image_size || img.rows != image_size)) {
    img = data::resize_square(img, image_size);
  }
  img = data::to_unit(img);  // CV_32F in [0, 1]
  if (!img.isContinuous()) img = img.clone();
  auto t = torch::from_blob(img.data, {1, img.rows, img.cols}, torch::kFloat32).clone();
  return in_channels == 1 ? t : t.repeat({in_channels, 1, 1});
}

torch::Tensor load_classifier_batch(const std::vector<ClassifierSample>& samples,
                                    const std::vector<std::size_t>& indices, int image_size,
                                    int in_channels, const std::vector<bool>& flips) {
  std::vector<torch::Tensor> images;
  images.reserve(indices.size());
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const auto& s = samples.at(indices[i]);
    auto t = load_classifier_image(s.path, image_size, in_channels);
    if (!images.empty() && !t.sizes().equals(images.front().sizes())) {
      throw Error(fmt::format("{} is {}x{} but {} is {}x{}; set classifier.image_size to resize",
                              s.path.string(), t.size(2), t.size(1),
                              samples.at(indices[0]).path.string(), images.front().size(2),
                              images.front().size(1)));
    }
    if (!flips.empty() && flips[i]) t = t.flip({2});
    images.push_back(std::move(t));
  }
  return torch::stack(images);
}

}  // namespace cxrsynth::train
