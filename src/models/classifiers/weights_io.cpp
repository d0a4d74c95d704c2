#include "models/classifiers/weights_io.h"

#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/log.h"

namespace cxrsynth::models {
namespace {

constexpr const char* kFormat = "cxrsynth-classifier/1";
constexpr std::size_t kMaxListed = 30;

c10::IValue read_pickle(const fs::path& file) {
  const std::string bytes = read_file(file);
  try {
    return torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const std::exception& e) {
    throw Error(fmt::format(
        "{}: not a readable torch.save file ({}); write it with scripts/export_torchvision.py",
        file.string(), e.what()));
  }
}

std::map<std::string, torch::Tensor> to_tensor_map(const c10::IValue& v, const fs::path& file) {
  if (!v.isGenericDict()) {
    throw Error(fmt::format("{}: expected a dict of name -> tensor, found {}", file.string(),
                            v.type()->str()));
  }
  std::map<std::string, torch::Tensor> out;
  for (const auto& kv : v.toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor()) {
      throw Error(fmt::format("{}: entry {} is not a name -> tensor pair", file.string(),
                              kv.key().isString() ? kv.key().toStringRef() : "(non-string)"));
    }
    out.emplace(kv.key().toStringRef(), kv.value().toTensor());
  }
  return out;
}

// The state dict held by a file: a plain dict, or a cxrsynth file's "state_dict" entry.
std::map<std::string, torch::Tensor> file_state(const c10::IValue& v, const fs::path& file) {
  if (v.isGenericDict()) {
    const auto d = v.toGenericDict();
    if (d.contains("state_dict")) return to_tensor_map(d.at("state_dict"), file);
  }
  return to_tensor_map(v, file);
}

std::string shape_str(const torch::Tensor& t) {
  return fmt::format("[{}]", fmt::join(t.sizes().vec(), ", "));
}

std::string list(const std::vector<std::string>& items) {
  std::string s;
  for (std::size_t i = 0; i < items.size() && i < kMaxListed; ++i) s += "\n  " + items[i];
  if (items.size() > kMaxListed) s += fmt::format("\n  ... and {} more", items.size() - kMaxListed);
  return s;
}

bool starts_with_any(const std::string& key, const std::vector<std::string>& prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](const std::string& p) { return key.rfind(p, 0) == 0; });
}

std::string meta_string(const c10::Dict<c10::IValue, c10::IValue>& d, const std::string& key,
                        const fs::path& file) {
  if (!d.contains(key) || !d.at(key).isString()) {
    throw Error(fmt::format("{}: classifier file lacks the string entry '{}'", file.string(), key));
  }
  return d.at(key).toStringRef();
}

std::int64_t meta_int(const c10::Dict<c10::IValue, c10::IValue>& d, const std::string& key,
                      const fs::path& file) {
  if (!d.contains(key) || !d.at(key).isInt()) {
    throw Error(
        fmt::format("{}: classifier file lacks the integer entry '{}'", file.string(), key));
  }
  return d.at(key).toInt();
}

}  // namespace

std::map<std::string, torch::Tensor> classifier_state(ClassifierNetImpl& model) {
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model.named_parameters(/*recurse=*/true)) out.emplace(p.key(), p.value());
  for (const auto& b : model.named_buffers(/*recurse=*/true)) out.emplace(b.key(), b.value());
  return out;
}

WeightsImportReport load_torchvision_weights(ClassifierNetImpl& model, const fs::path& file,
                                             const WeightsImportOptions& options) {
  return with_context(fmt::format("while loading classifier weights from {}", file.string()), [&] {
    const auto source = file_state(read_pickle(file), file);
    auto target = classifier_state(model);
    const auto head = model.head_keys();
    const auto replaced = model.replaced_torchvision_prefixes();
    const auto first_conv = model.first_conv_key();

    WeightsImportReport report;
    std::vector<std::string> missing, unexpected, mismatched;
    std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;  // (destination, source)
    for (const auto& [name, dst] : target) {
      const bool is_head = std::find(head.begin(), head.end(), name) != head.end();
      const auto it = source.find(name);
      if (it == source.end()) {
        if (is_head) {
          report.skipped_head.push_back(name);
        } else {
          missing.push_back(name);
        }
        continue;
      }
      torch::Tensor src = it->second;
      if (name == first_conv && options.adapt_first_conv && src.dim() == 4 && dst.dim() == 4 &&
          src.size(1) == 3 && dst.size(1) == 1) {
        src = src.sum(1, /*keepdim=*/true);  // RGB copies of a gray image: sum the kernels
        report.first_conv_adapted = true;
      }
      if (!src.sizes().equals(dst.sizes()) || src.scalar_type() != dst.scalar_type()) {
        if (is_head) {
          report.skipped_head.push_back(name + " (file " + shape_str(src) + ")");
        } else {
          mismatched.push_back(fmt::format("{}: file {} {}, model {} {}", name, shape_str(src),
                                           c10::toString(src.scalar_type()), shape_str(dst),
                                           c10::toString(dst.scalar_type())));
        }
        continue;
      }
      copies.emplace_back(dst, src);
    }
    for (const auto& [name, t] : source) {
      if (target.count(name)) continue;
      if (starts_with_any(name, replaced)) {
        report.skipped_replaced.push_back(name);
      } else {
        unexpected.push_back(name);
      }
    }
    if (!missing.empty() || !unexpected.empty() || !mismatched.empty()) {
      std::string msg = fmt::format(
          "{} does not match the {} network (in_channels {}): {} missing, {} unexpected, {} with "
          "another shape or dtype",
          file.string(), model.options().arch, model.options().in_channels, missing.size(),
          unexpected.size(), mismatched.size());
      if (!missing.empty()) msg += "\nmissing keys:" + list(missing);
      if (!unexpected.empty()) msg += "\nunexpected keys:" + list(unexpected);
      if (!mismatched.empty()) msg += "\nshape or dtype mismatches:" + list(mismatched);
      throw Error(msg);
    }
    torch::NoGradGuard no_grad;
    for (auto& [dst, src] : copies) dst.copy_(src);
    report.loaded = copies.size();
    if (!report.skipped_head.empty()) {
      log_info("weights {}: head not loaded (kept at initialisation):{}", file.string(),
               list(report.skipped_head));
    }
    if (!report.skipped_replaced.empty()) {
      log_info(
          "weights {}: {} torchvision head tensor(s) replaced by our GAP + linear head "
          "were not loaded",
          file.string(), report.skipped_replaced.size());
    }
    if (report.first_conv_adapted) {
      log_info("weights {}: first convolution summed over RGB for 1-channel input", file.string());
    }
    return report;
  });
}

void save_classifier_file(ClassifierNetImpl& model, const fs::path& file,
                          const std::map<std::string, std::string>& metadata) {
  const auto& o = model.options();
  c10::Dict<std::string, torch::Tensor> state;
  for (const auto& [name, t] : classifier_state(model)) {
    state.insert(name, t.detach().to(torch::kCPU).contiguous().clone());
  }
  c10::impl::GenericDict top(c10::StringType::get(), c10::AnyType::get());
  top.insert("format", std::string(kFormat));
  top.insert("arch", o.arch);
  top.insert("in_channels", static_cast<std::int64_t>(o.in_channels));
  top.insert("densenet_growth_rate", static_cast<std::int64_t>(o.densenet_growth_rate));
  top.insert("densenet_block_config", c10::List<std::int64_t>(o.densenet_block_config));
  top.insert("densenet_init_features", static_cast<std::int64_t>(o.densenet_init_features));
  top.insert("densenet_bn_size", static_cast<std::int64_t>(o.densenet_bn_size));
  c10::Dict<std::string, std::string> meta;
  for (const auto& [k, v] : metadata) meta.insert(k, v);
  top.insert("metadata", meta);
  top.insert("state_dict", state);
  const auto bytes = torch::pickle_save(top);
  write_file_atomic(file, std::string_view(bytes.data(), bytes.size()));
}

LoadedClassifier load_classifier_file(const fs::path& file) {
  return with_context(fmt::format("while loading classifier {}", file.string()), [&] {
    const auto v = read_pickle(file);
    if (!v.isGenericDict() || !v.toGenericDict().contains("format")) {
      throw Error(
          fmt::format("{}: not a cxrsynth classifier file (no 'format' entry); "
                      "expected one written by train-classifier",
                      file.string()));
    }
    const auto d = v.toGenericDict();
    const auto format = meta_string(d, "format", file);
    if (format != kFormat) {
      throw Error(fmt::format("{}: classifier file format '{}'; this build reads '{}'",
                              file.string(), format, kFormat));
    }
    ClassifierModelOptions o;
    o.arch = meta_string(d, "arch", file);
    o.in_channels = static_cast<int>(meta_int(d, "in_channels", file));
    o.densenet_growth_rate = static_cast<int>(meta_int(d, "densenet_growth_rate", file));
    o.densenet_init_features = static_cast<int>(meta_int(d, "densenet_init_features", file));
    o.densenet_bn_size = static_cast<int>(meta_int(d, "densenet_bn_size", file));
    if (!d.contains("densenet_block_config") || !d.at("densenet_block_config").isIntList()) {
      throw Error(fmt::format("{}: classifier file lacks 'densenet_block_config'", file.string()));
    }
    o.densenet_block_config = d.at("densenet_block_config").toIntVector();
    LoadedClassifier out;
    if (d.contains("metadata") && d.at("metadata").isGenericDict()) {
      for (const auto& kv : d.at("metadata").toGenericDict()) {
        out.metadata.emplace(kv.key().toStringRef(), kv.value().toStringRef());
      }
    }
    out.net = make_classifier(o);
    const auto source = file_state(v, file);
    auto target = classifier_state(*out.net);
    std::vector<std::string> problems;
    for (const auto& [name, dst] : target) {
      const auto it = source.find(name);
      if (it == source.end()) {
        problems.push_back("missing " + name);
      } else if (!it->second.sizes().equals(dst.sizes())) {
        problems.push_back(
            fmt::format("{}: file {}, model {}", name, shape_str(it->second), shape_str(dst)));
      }
    }
    for (const auto& [name, t] : source) {
      if (!target.count(name)) problems.push_back("unexpected " + name);
    }
    if (!problems.empty()) {
      throw Error(fmt::format("{}: state does not match its {} network:{}", file.string(), o.arch,
                              list(problems)));
    }
    torch::NoGradGuard no_grad;
    for (auto& [name, dst] : target) dst.copy_(source.at(name));
    return out;
  });
}

}  // namespace cxrsynth::models
