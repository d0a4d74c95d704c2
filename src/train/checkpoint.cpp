#include "train/checkpoint.h"

#include <ATen/ATen.h>

#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/sha256.h"

namespace cxrsynth::train {

namespace {

constexpr std::string_view kMagic = "CXRSYNTH-STATE-1\n";
enum Kind : int { kTensor = 0, kString = 1, kInt = 2 };

int dtype_code(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return 0;
    case at::kDouble:
      return 1;
    case at::kLong:
      return 2;
    case at::kByte:
      return 3;
    case at::kInt:
      return 4;
    default:
      throw Error(fmt::format("checkpoint: unsupported tensor dtype {}", c10::toString(t)));
  }
}

at::ScalarType code_dtype(int c, const std::string& where) {
  switch (c) {
    case 0:
      return at::kFloat;
    case 1:
      return at::kDouble;
    case 2:
      return at::kLong;
    case 3:
      return at::kByte;
    case 4:
      return at::kInt;
    default:
      throw Error(fmt::format("{}: unknown tensor dtype code {}", where, c));
  }
}

template <class T>
void put_raw(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

class Reader {
 public:
  Reader(std::string_view data, const std::string& source) : data_(data), source_(source) {}
  template <class T>
  T get() {
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  const char* take(std::size_t n) {
    if (n > data_.size() - pos_)
      throw Error(fmt::format("{}: truncated (wanted {} bytes at offset {} of {})", source_, n,
                              pos_, data_.size()));
    const char* p = data_.data() + pos_;
    pos_ += n;
    return p;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string_view data_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

}  // namespace

void StateArchive::add(Entry e) {
  CXRSYNTH_CHECK(!has(e.name), "checkpoint: duplicate key '{}'", e.name);
  index_[e.name] = entries_.size();
  entries_.push_back(std::move(e));
}

void StateArchive::put_tensor(const std::string& name, const at::Tensor& t) {
  Entry e;
  e.name = name;
  e.kind = kTensor;
  e.tensor = t.detach().to(at::kCPU).contiguous().clone();
  dtype_code(e.tensor.scalar_type());
  add(std::move(e));
}

void StateArchive::put_string(const std::string& name, const std::string& value) {
  Entry e;
  e.name = name;
  e.kind = kString;
  e.text = value;
  add(std::move(e));
}

void StateArchive::put_int(const std::string& name, std::int64_t value) {
  Entry e;
  e.name = name;
  e.kind = kInt;
  e.integer = value;
  add(std::move(e));
}

const StateArchive::Entry& StateArchive::get(const std::string& name, int kind) const {
  const auto it = index_.find(name);
  if (it == index_.end())
    throw Error(fmt::format("{}: missing key '{}' (a checkpoint of another version or kind?)",
                            source_, name));
  const Entry& e = entries_[it->second];
  if (e.kind != kind) throw Error(fmt::format("{}: key '{}' has the wrong kind", source_, name));
  return e;
}

at::Tensor StateArchive::tensor(const std::string& name) const {
  return get(name, kTensor).tensor;
}
std::string StateArchive::string(const std::string& name) const {
  return get(name, kString).text;
}
std::int64_t StateArchive::integer(const std::string& name) const {
  return get(name, kInt).integer;
}

std::vector<std::string> StateArchive::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

std::string StateArchive::serialize() const {
  std::string body;
  for (const auto& e : entries_) {
    put_raw<std::uint32_t>(body, static_cast<std::uint32_t>(e.name.size()));
    body += e.name;
    put_raw<std::uint8_t>(body, static_cast<std::uint8_t>(e.kind));
    if (e.kind == kTensor) {
      put_raw<std::uint8_t>(body, static_cast<std::uint8_t>(dtype_code(e.tensor.scalar_type())));
      put_raw<std::uint32_t>(body, static_cast<std::uint32_t>(e.tensor.dim()));
      for (auto d : e.tensor.sizes()) put_raw<std::int64_t>(body, d);
      body.append(static_cast<const char*>(e.tensor.data_ptr()), e.tensor.nbytes());
    } else if (e.kind == kString) {
      put_raw<std::uint64_t>(body, e.text.size());
      body += e.text;
    } else {
      put_raw<std::int64_t>(body, e.integer);
    }
  }
  std::string out(kMagic);
  out += sha256_hex(body);
  out += '\n';
  put_raw<std::uint64_t>(out, body.size());
  out += body;
  return out;
}

StateArchive StateArchive::parse(std::string_view bytes, const std::string& source) {
  if (bytes.substr(0, kMagic.size()) != kMagic)
    throw Error(fmt::format("{}: not a cxrsynth checkpoint (bad magic)", source));
  Reader head(bytes.substr(kMagic.size()), source);
  const std::string stored_hash(head.take(64), 64);
  head.take(1);
  const auto body_size = head.get<std::uint64_t>();
  const std::size_t body_at = kMagic.size() + 65 + 8;
  if (bytes.size() - body_at != body_size)
    throw Error(fmt::format("{}: size {} bytes, header says {} (truncated or corrupt)", source,
                            bytes.size(), body_at + body_size));
  const std::string_view body = bytes.substr(body_at);
  const std::string actual = sha256_hex(body);
  if (actual != stored_hash)
    throw Error(
        fmt::format("{}: checksum mismatch (stored sha256 {}, computed {}): the file is "
                    "corrupt",
                    source, stored_hash, actual));
  StateArchive a;
  a.source_ = source;
  Reader r(body, source);
  while (!r.done()) {
    Entry e;
    const auto n = r.get<std::uint32_t>();
    e.name.assign(r.take(n), n);
    e.kind = r.get<std::uint8_t>();
    if (e.kind == kTensor) {
      const auto dtype = code_dtype(r.get<std::uint8_t>(), source);
      const auto ndim = r.get<std::uint32_t>();
      std::vector<std::int64_t> dims(ndim);
      for (auto& d : dims) d = r.get<std::int64_t>();
      e.tensor = at::empty(dims, at::TensorOptions().dtype(dtype));
      std::memcpy(e.tensor.data_ptr(), r.take(e.tensor.nbytes()), e.tensor.nbytes());
    } else if (e.kind == kString) {
      const auto len = r.get<std::uint64_t>();
      e.text.assign(r.take(len), len);
    } else if (e.kind == kInt) {
      e.integer = r.get<std::int64_t>();
    } else {
      throw Error(fmt::format("{}: key '{}' has unknown kind {}", source, e.name, e.kind));
    }
    a.add(std::move(e));
  }
  return a;
}

void StateArchive::save(const std::filesystem::path& path) const {
  write_file_atomic(path, serialize());
}

StateArchive StateArchive::load(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  return parse(bytes, path.string());
}

void require_same_world_size(const StateArchive& archive, const std::filesystem::path& path,
                             int batch_size, int world) {
  const auto written = archive.has("world_size") ? archive.integer("world_size") : 1;
  if (written == world) return;
  throw UsageError(fmt::format(
      "{} was written by {} process(es) (global batch {} x {}), this run has {}: resume with the "
      "same number of processes (cxrsynth launch -n {}), or use another run directory",
      path.string(), written, batch_size, written, world, written));
}

}  // namespace cxrsynth::train
