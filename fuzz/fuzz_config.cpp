// Fuzz target: the strict JSON config parser (config/config_io.h). Inputs starting with
// "--set " go through apply_set (the rest of the first line); others through apply_json_text.
// A config that was accepted must print (to_json, show, diff) and re-apply from its own JSON
// to the same JSON. Only cxrsynth::Error may escape.
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/config_io.h"
#include "core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cxrsynth;
  const std::string text(reinterpret_cast<const char*>(data), size);
  Config cfg;
  try {
    if (text.rfind("--set ", 0) == 0) {
      config::apply_set(cfg,
                        text.substr(6, text.find('\n') == std::string::npos ? std::string::npos
                                                                            : text.find('\n') - 6));
    } else {
      config::apply_json_text(cfg, text, "fuzz.json");
    }
  } catch (const Error&) {
    return 0;
  }
  const std::string json = config::to_json(cfg);
  (void)config::show(cfg, true);
  (void)config::diff(cfg);
  Config again;
  config::apply_json_text(again, json, "fuzz-roundtrip.json");  // must not throw
  if (config::to_json(again) != json) __builtin_trap();
  return 0;
}
