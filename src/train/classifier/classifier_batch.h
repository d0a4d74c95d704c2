// Image batches for the classifiers: decoded through data/image_io.h (PNG, JPEG, DICOM), values
// in [0, 1] (paper sec. 4: no other normalisation), resized when image_size asks for it, copied
// to 3 channels for in_channels = 3 (the authors' RGB copies).
#pragma once

#include <torch/types.h>

#include <cstddef>
#include <filesystem>
#include <vector>

#include "train/classifier/classifier_data.h"

namespace cxrsynth::train {

// [C, S, S] float: decoded, resized to image_size x image_size like `prepare` does (0 keeps
// the file's size; then every image of a batch must share it), scaled to [0, 1]. Errors name
// the file.
torch::Tensor load_classifier_image(const std::filesystem::path& path, int image_size,
                                    int in_channels);

// [N, C, S, S] of samples[indices[i]], flipped horizontally where flips[i] (flips may be
// empty). Throws naming the first image whose size differs from the others.
torch::Tensor load_classifier_batch(const std::vector<ClassifierSample>& samples,
                                    const std::vector<std::size_t>& indices, int image_size,
                                    int in_channels, const std::vector<bool>& flips = {});

}  // namespace cxrsynth::train
