// Runtime settings: the OPENBLAS_CORETYPE warning (the variable is never changed, only named).
#include <gtest/gtest.h>

#include "core/runtime.h"

namespace cxrsynth {
namespace {

TEST(BlasCoretypeWarning, NamesAnOlderCoreOnAnAvx512Cpu) {
  const auto w = blas_coretype_warning("Haswell", true);
  EXPECT_NE(w.find("OPENBLAS_CORETYPE=Haswell"), std::string::npos) << w;
  EXPECT_NE(w.find("half speed"), std::string::npos) << w;
  EXPECT_FALSE(blas_coretype_warning("Zen", true).empty());
}

TEST(BlasCoretypeWarning, SilentWhenUnsetMatchingOrWithoutAvx512) {
  EXPECT_TRUE(blas_coretype_warning(nullptr, true).empty());
  EXPECT_TRUE(blas_coretype_warning("", true).empty());
  EXPECT_TRUE(blas_coretype_warning("SkylakeX", true).empty());
  EXPECT_TRUE(blas_coretype_warning("COOPERLAKE", true).empty());
  EXPECT_TRUE(blas_coretype_warning("Haswell", false).empty());
}

}  // namespace
}  // namespace cxrsynth
