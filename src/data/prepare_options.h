// Options of the `prepare` stage (data sources, preprocessing, splits, undersampling).
// Owned by the data module; defaults name their source.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/fields.h"

namespace cxrsynth::data {

struct PrepareOptions {
  int image_size = 256;  // Source: paper sec. 4 (256x256)
};

template <class V>
void visit_fields(V& v, PrepareOptions& o) {
  using config::Doc;
  v.field("image_size", o.image_size,
          Doc("Side of the square stored images, pixels", "paper sec. 4").range(16, 4096));
}

}  // namespace cxrsynth::data
