#include "core/run_dir.h"

#include "core/error.h"

namespace cxrsynth {

RunDir::RunDir(fs::path root) : root_(std::move(root)) {}

void RunDir::create() const {
  std::error_code ec;
  fs::create_directories(root_, ec);
  if (ec) {
    throw Error(fmt::format("cannot create run directory {}: {}", root_.string(), ec.message()));
  }
}

}  // namespace cxrsynth
