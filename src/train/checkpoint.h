// A deterministic, checksummed container of named tensors, strings and integers: the format
// of R/gan/<task>/checkpoint.pt.
//
// Why not torch::save: LibTorch's archives embed a per-process mangled module-type name, so
// the same state saved by a resumed process differs byte-wise from an uninterrupted run's. This
// format holds only the values, in insertion order, so equal state gives equal bytes.
//
// Layout (little-endian):
//   "CXRSYNTH-STATE-1\n"                 17-byte magic
//   <64 lowercase hex sha256 of body>\n  checksum, verified on load
//   u64 body size, body
// body: records of  u32 name length, name, u8 kind (0 tensor, 1 string, 2 int64), then
//   tensor: u8 dtype (0 f32, 1 f64, 2 i64, 3 u8, 4 i32), u32 ndim, i64 dims[ndim], raw data
//   string: u64 length, bytes
//   int64 : i64
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cxrsynth::train {

class StateArchive {
 public:
  StateArchive() = default;

  void put_tensor(const std::string& name, const at::Tensor& t);  // stored as a CPU copy
  void put_string(const std::string& name, const std::string& value);
  void put_int(const std::string& name, std::int64_t value);

  bool has(const std::string& name) const { return index_.count(name) != 0; }
  // Throw Error naming the archive's source and the missing or mistyped key.
  at::Tensor tensor(const std::string& name) const;
  std::string string(const std::string& name) const;
  std::int64_t integer(const std::string& name) const;
  // Names in insertion order.
  std::vector<std::string> names() const;

  std::string serialize() const;
  // Verifies the magic and the checksum; `source` names the file in errors.
  static StateArchive parse(std::string_view bytes, const std::string& source);

  // Atomic write (the previous file stays intact if interrupted) / read.
  void save(const std::filesystem::path& path) const;
  static StateArchive load(const std::filesystem::path& path);

  const std::string& source() const { return source_; }

 private:
  struct Entry {
    std::string name;
    int kind = 0;
    at::Tensor tensor;
    std::string text;
    std::int64_t integer = 0;
  };
  const Entry& get(const std::string& name, int kind) const;
  void add(Entry e);
  std::vector<Entry> entries_;
  std::map<std::string, std::size_t> index_;
  std::string source_ = "(memory)";
};

// Data parallel: a checkpoint's global batch (batch_size x processes) depends on the process
// count it was written with ("world_size", 1 when absent). Throws UsageError naming the file,
// both counts and the `cxrsynth launch -n` that resumes it when `world` differs.
void require_same_world_size(const StateArchive& archive, const std::filesystem::path& path,
                             int batch_size, int world);

}  // namespace cxrsynth::train
