//===- Bundle.cpp - model.awqb: manifest, writer and reader ---------------===//

#include "runtime/bundle/Bundle.h"

#include "runtime/formats/AtomicFile.h"
#include "runtime/formats/Json.h"
#include "runtime/formats/SafeTensors.h"
#include "runtime/host/Sha256.h"
#include "runtime/kernels/KernelDescription.h"
#include "runtime/kernels/KernelPlan.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <mutex>
#include <set>
#include <thread>
#include <unistd.h>

namespace awq {
namespace bundle {
namespace {

using json = nlohmann::ordered_json;

std::string str(int64_t value) { return std::to_string(value); }

std::string sha256(const void *data, size_t size) {
  host::Sha256 hash;
  hash.update(data, size);
  return hash.hexDigest();
}

//===----------------------------------------------------------------------===//
// Manifest <-> JSON
//===----------------------------------------------------------------------===//

/// Typed access to untrusted JSON: every failure names the field's path.
class Reader {
public:
  explicit Reader(std::string what) : what(std::move(what)) {}

  [[noreturn]] void fail(const std::string &path,
                         const std::string &expected) const {
    throw BundleError(BundleError::Corrupt, what + ": manifest field '" + path +
                                                "': expected " + expected);
  }
  const json &field(const json &object, const std::string &path,
                    const char *key) const {
    if (!object.is_object())
      fail(path, "an object");
    auto it = object.find(key);
    if (it == object.end())
      fail(path + "." + key, "a value (missing)");
    return *it;
  }
  int64_t integer(const json &object, const std::string &path, const char *key,
                  int64_t min, int64_t max) const {
    const json &value = field(object, path, key);
    if (!value.is_number_integer())
      fail(path + "." + key, "an integer");
    int64_t v = value.is_number_unsigned()
                    ? (value.get<uint64_t>() > uint64_t(INT64_MAX)
                           ? INT64_MAX
                           : int64_t(value.get<uint64_t>()))
                    : value.get<int64_t>();
    if (v < min || v > max)
      fail(path + "." + key,
           "an integer in [" + str(min) + ", " + str(max) + "], got " + str(v));
    return v;
  }
  bool boolean(const json &object, const std::string &path,
               const char *key) const {
    const json &value = field(object, path, key);
    if (!value.is_boolean())
      fail(path + "." + key, "true or false");
    return value.get<bool>();
  }
  std::string text(const json &object, const std::string &path, const char *key,
                   bool allowEmpty = false) const {
    const json &value = field(object, path, key);
    if (!value.is_string() || (!allowEmpty && value.get<std::string>().empty()))
      fail(path + "." + key, "a non-empty string");
    return value.get<std::string>();
  }
  std::string optionalText(const json &object, const std::string &path,
                           const char *key) const {
    if (!object.contains(key))
      return "";
    return text(object, path, key);
  }
  const json &array(const json &object, const std::string &path,
                    const char *key) const {
    const json &value = field(object, path, key);
    if (!value.is_array())
      fail(path + "." + key, "an array");
    return value;
  }
  KernelFamily family(const json &object, const std::string &path) const {
    std::string name = text(object, path, "family");
    if (name == "gemv")
      return KernelFamily::Gemv;
    if (name == "gemm")
      return KernelFamily::Gemm;
    fail(path + ".family", "\"gemv\" or \"gemm\", got \"" + name + "\"");
  }
  LinearShape shape(const json &o, const std::string &path) const {
    LinearShape s;
    s.k = integer(o, path, "k", 1, kMaxFeatures);
    s.n = integer(o, path, "n", 1, kMaxFeatures);
    // Absent in bundles written before bf16 support: fp16.
    if (std::string name = optionalText(o, path, "activation"); !name.empty())
      if (!parseActivationType(name, s.activation))
        fail(path + ".activation", "\"f16\" or \"bf16\", got \"" + name + "\"");
    s.bits = static_cast<int>(integer(o, path, "bits", 3, 8));
    s.group = integer(o, path, "group_size", 1, kMaxFeatures);
    s.zeroPoint = boolean(o, path, "zero_point");
    s.actScale = boolean(o, path, "act_scale");
    s.bias = boolean(o, path, "bias");
    s.residual = boolean(o, path, "residual");
    s.siluMul = boolean(o, path, "silu_mul");
    if (const char *why = linearViolation(s))
      fail(path, std::string("a layer the kernels serve: ") + why);
    return s;
  }

private:
  std::string what;
};

} // namespace

const KernelUse *Layer::useFor(int64_t m) const {
  for (const KernelUse &use : kernels)
    if (m >= use.minM && m <= use.maxM)
      return &use;
  return nullptr;
}

const Kernel *Manifest::findKernel(const std::string &name) const {
  for (const Kernel &kernel : kernels)
    if (kernel.name == name)
      return &kernel;
  return nullptr;
}

std::string layerTensor(size_t layer, const std::string &part) {
  return "layers." + std::to_string(layer) + "." + part;
}

std::string toJson(const Manifest &m) {
  json root = {{"format", kFormatName},
               {"version", kFormatVersion},
               {"compiler", m.compiler},
               {"input", {{"path", m.inputPath}, {"sha256", m.inputSha256}}},
               {"target", {{"arch", m.target}, {"sms", m.targetSms}}},
               {"max_m", m.maxM},
               {"weights", m.hasWeights}};
  json headers = json::object();
  for (const auto &[include, tensor] : m.headers)
    headers[include] = tensor;
  root["headers"] = headers;
  json kernels = json::array();
  for (const Kernel &k : m.kernels) {
    json entry = {{"name", k.name}, {"source", k.source}};
    entry.update(describeInstance<json>(k.instance));
    entry["serves"] = k.serves;
    kernels.push_back(entry);
  }
  root["kernels"] = kernels;
  json layers = json::array();
  for (const Layer &l : m.layers) {
    json entry = {
        {"name", l.name}, {"tensors", l.sources}, {"function", l.function}};
    entry.update(describeShape<json>(l.shape));
    json uses = json::array();
    for (const KernelUse &use : l.kernels)
      uses.push_back({{"kernel", use.kernel},
                      {"family", familyName(use.family)},
                      {"min_m", use.minM},
                      {"max_m", use.maxM}});
    entry["kernels"] = uses;
    json buffers = json::object();
    for (const auto &[family, layout] : l.layouts) {
      json b = {{"qweight", layout.qweight}, {"scales", layout.scales}};
      if (!layout.zeros.empty())
        b["zeros"] = layout.zeros;
      buffers[familyName(family)] = b;
    }
    if (!l.bias.empty())
      buffers["bias"] = l.bias;
    if (!l.actScale.empty())
      buffers["act_scale"] = l.actScale;
    entry["buffers"] = buffers;
    layers.push_back(entry);
  }
  root["layers"] = layers;
  json aot = json::array();
  for (const AotImage &image : m.aot)
    aot.push_back({{"kernel", image.kernel},
                   {"target", image.target},
                   {"tensor", image.tensor}});
  root["aot"] = aot;
  json hashes = json::object();
  for (const auto &[tensor, hash] : m.tensorSha256)
    appendUniqueKey(hashes, tensor, json(hash));
  root["tensor_sha256"] = hashes;
  return root.dump(1);
}

Manifest manifestFromJson(const std::string &text, const std::string &what) {
  json root;
  try {
    root = json::parse(text, nullptr, true, false);
  } catch (const std::exception &e) {
    throw BundleError(BundleError::Corrupt,
                      what + ": the manifest is not JSON: " + e.what());
  }
  if (!root.is_object())
    throw BundleError(BundleError::Corrupt,
                      what + ": the manifest is not a JSON object");
  const Reader r(what);
  if (r.text(root, "", "format") != kFormatName)
    r.fail("format", std::string("\"") + kFormatName + "\"");
  const int64_t version = r.integer(root, "", "version", 0, INT32_MAX);
  if (version != kFormatVersion)
    throw BundleError(BundleError::Version,
                      what + ": bundle format version " + str(version) +
                          ", this runtime reads version " +
                          str(kFormatVersion) +
                          "; recompile the model with this awqc");
  Manifest m;
  m.compiler = r.text(root, "", "compiler");
  const json &input = r.field(root, "", "input");
  m.inputPath = r.text(input, "input", "path", true);
  m.inputSha256 = r.text(input, "input", "sha256", true);
  const json &target = r.field(root, "", "target");
  m.target = r.text(target, "target", "arch");
  m.targetSms = r.integer(target, "target", "sms", 1, 1 << 20);
  m.maxM = r.integer(root, "", "max_m", 1, kMaxRowsLimit);
  m.hasWeights = r.boolean(root, "", "weights");
  const json &headers = r.field(root, "", "headers");
  if (!headers.is_object())
    r.fail("headers", "an object");
  for (const auto &[include, tensor] : headers.items()) {
    if (!tensor.is_string())
      r.fail("headers." + include, "a tensor name");
    m.headers[include] = tensor.get<std::string>();
  }
  const json &kernels = r.array(root, "", "kernels");
  for (size_t i = 0; i < kernels.size(); ++i) {
    const std::string path = "kernels[" + std::to_string(i) + "]";
    const json &k = kernels[i];
    Kernel kernel;
    kernel.name = r.text(k, path, "name");
    kernel.source = r.text(k, path, "source");
    const LinearShape shape = r.shape(k, path);
    const json &t = r.field(k, path, "tiling");
    const std::string tp = path + ".tiling";
    if (r.family(k, path) == KernelFamily::Gemv) {
      GemvParams p;
      p.threads = r.integer(t, tp, "threads", 1, 1024);
      p.colsPerWarp = r.integer(t, tp, "cols_per_warp", 1, 1024);
      p.kSplit = r.integer(t, tp, "k_split", 1, kMaxFeatures);
      p.maxRows = r.integer(t, tp, "max_rows", 1, 1024);
      kernel.instance = KernelInstance::makeGemv(shape, p);
    } else {
      GemmParams p;
      p.tileM = r.integer(t, tp, "tile_m", 1, 1024);
      p.tileN = r.integer(t, tp, "tile_n", 1, 1024);
      p.tileK = r.integer(t, tp, "tile_k", 1, 1024);
      p.warpsM = r.integer(t, tp, "warps_m", 1, 32);
      p.warpsN = r.integer(t, tp, "warps_n", 1, 32);
      p.stages = r.integer(t, tp, "stages", 1, 16);
      p.splitK = r.integer(t, tp, "split_k", 1, 1024);
      kernel.instance = KernelInstance::makeGemm(shape, p);
    }
    std::string why = kernel.instance.check();
    if (!why.empty())
      r.fail(path + ".tiling", "a valid kernel configuration: " + why);
    if (!isKernelName(kernel.name))
      r.fail(path + ".name", "a C identifier that is not reserved");
    for (const json &served : r.array(k, path, "serves"))
      kernel.serves.push_back(served.is_string() ? served.get<std::string>()
                                                 : std::string());
    m.kernels.push_back(std::move(kernel));
  }
  const json &layers = r.array(root, "", "layers");
  for (size_t i = 0; i < layers.size(); ++i) {
    const std::string path = "layers[" + std::to_string(i) + "]";
    const json &l = layers[i];
    Layer layer;
    layer.name = r.text(l, path, "name");
    layer.function = r.text(l, path, "function", true);
    for (const json &tensor : r.array(l, path, "tensors")) {
      if (!tensor.is_string())
        r.fail(path + ".tensors", "tensor names");
      layer.sources.push_back(tensor.get<std::string>());
    }
    layer.shape = r.shape(l, path);
    const json &uses = r.array(l, path, "kernels");
    for (size_t u = 0; u < uses.size(); ++u) {
      const std::string up = path + ".kernels[" + std::to_string(u) + "]";
      KernelUse use;
      use.kernel = r.text(uses[u], up, "kernel");
      use.family = r.family(uses[u], up);
      use.minM = r.integer(uses[u], up, "min_m", 1, kMaxRowsLimit);
      use.maxM = r.integer(uses[u], up, "max_m", 1, kMaxRowsLimit);
      layer.kernels.push_back(use);
    }
    const json &buffers = r.field(l, path, "buffers");
    const std::string bp = path + ".buffers";
    for (KernelFamily family : {KernelFamily::Gemv, KernelFamily::Gemm}) {
      const char *key = familyName(family);
      if (!buffers.is_object() || !buffers.contains(key))
        continue;
      const json &b = buffers[key];
      LayoutBuffers layout;
      layout.qweight = r.text(b, bp + "." + key, "qweight");
      layout.scales = r.text(b, bp + "." + key, "scales");
      layout.zeros = r.optionalText(b, bp + "." + key, "zeros");
      layer.layouts[family] = layout;
    }
    layer.bias = r.optionalText(buffers, bp, "bias");
    layer.actScale = r.optionalText(buffers, bp, "act_scale");
    m.layers.push_back(std::move(layer));
  }
  for (const json &a : r.array(root, "", "aot")) {
    AotImage image;
    image.kernel = r.text(a, "aot[]", "kernel");
    image.target = r.text(a, "aot[]", "target");
    image.tensor = r.text(a, "aot[]", "tensor");
    m.aot.push_back(image);
  }
  const json &hashes = r.field(root, "", "tensor_sha256");
  if (!hashes.is_object())
    r.fail("tensor_sha256", "an object");
  for (const auto &[tensor, hash] : hashes.items()) {
    if (!hash.is_string() || hash.get<std::string>().size() != 64)
      r.fail("tensor_sha256." + tensor, "64 hex digits");
    m.tensorSha256[tensor] = hash.get<std::string>();
  }
  return m;
}

void checkManifest(const Manifest &m, const std::string &what) {
  auto fail = [&](const std::string &message) {
    throw BundleError(BundleError::Corrupt, what + ": " + message);
  };
  auto declared = [&](const std::string &tensor, const std::string &role) {
    if (!m.tensorSha256.count(tensor))
      fail(role + " tensor '" + tensor + "' has no hash in the manifest");
  };
  if (!parseTarget(m.target))
    fail("unknown target '" + m.target + "' (known: " + knownTargets() + ")");
  for (const auto &[include, tensor] : m.headers)
    declared(tensor, "header " + include + ":");
  std::set<std::string> names;
  for (const Kernel &kernel : m.kernels) {
    if (!names.insert(kernel.name).second)
      fail("kernel '" + kernel.name + "' is listed twice");
    declared(kernel.source, "kernel " + kernel.name + "'s source");
  }
  for (size_t i = 0; i < m.layers.size(); ++i) {
    const Layer &layer = m.layers[i];
    const std::string where =
        "layer " + std::to_string(i) + " (" + layer.name + ")";
    if (layer.kernels.empty())
      fail(where + " has no kernel");
    int64_t next = 1;
    for (const KernelUse &use : layer.kernels) {
      const Kernel *kernel = m.findKernel(use.kernel);
      if (!kernel)
        fail(where + " uses kernel '" + use.kernel + "', which is not listed");
      if (kernel->instance.family != use.family)
        fail(where + ": kernel '" + use.kernel + "' is not a " +
             familyName(use.family) + " kernel");
      const LinearShape &a = kernel->instance.shape, &b = layer.shape;
      if (a != b)
        fail(where + ": kernel '" + use.kernel +
             "' serves a different shape or epilogue");
      if (use.minM != next || use.maxM < use.minM)
        fail(where + ": the kernels' M ranges must run from 1 to max_m " +
             "without gaps or overlaps (found " + str(use.minM) + ".." +
             str(use.maxM) + " after " + str(next - 1) + ")");
      next = use.maxM + 1;
      if (!layer.layouts.count(use.family))
        fail(where + " has no " + familyName(use.family) + " weight buffers");
    }
    if (next != m.maxM + 1)
      fail(where + ": the kernels' M ranges end at " + str(next - 1) +
           ", not at max_m " + str(m.maxM));
    if (m.hasWeights) {
      for (const auto &[family, layout] : layer.layouts) {
        declared(layout.qweight, where + " qweight");
        declared(layout.scales, where + " scales");
        if (layer.shape.zeroPoint)
          declared(layout.zeros, where + " zeros");
      }
      if (layer.shape.bias)
        declared(layer.bias, where + " bias");
      if (layer.shape.actScale)
        declared(layer.actScale, where + " act_scale");
    }
  }
  for (const AotImage &image : m.aot) {
    if (!m.findKernel(image.kernel))
      fail("AOT image of unknown kernel '" + image.kernel + "'");
    declared(image.tensor, "AOT image");
  }
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

namespace {

constexpr const char *kPadPrefix = ".pad.";
constexpr const char *kPlaceholderHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

struct Placed {
  const PendingTensor *tensor = nullptr; ///< nullptr for padding.
  std::string name;
  uint64_t begin = 0, size = 0;
};

uint64_t declaredBytes(const PendingTensor &t, const std::string &what) {
  std::optional<uint64_t> numel = checkedNumel(t.shape);
  std::optional<uint64_t> bytes =
      numel ? checkedMul(*numel, dtypeSize(t.dtype)) : std::nullopt;
  if (!bytes)
    throw Error(what + ": tensor '" + t.name + "' has an invalid shape");
  return *bytes;
}

/// The header for `placed`, padded so the data starts kAlignment-aligned in
/// the file (8 length bytes + header).
std::string buildHeader(const std::vector<Placed> &placed,
                        const Manifest &manifest) {
  json header = json::object();
  const std::string text = toJson(manifest);
  header["__metadata__"] = {
      {"format", kFormatName},
      {"format_version", std::to_string(kFormatVersion)},
      {"manifest", text},
      {"manifest_sha256", sha256(text.data(), text.size())}};
  for (const Placed &p : placed) {
    json info = json::object();
    info["dtype"] = p.tensor ? dtypeName(p.tensor->dtype) : "U8";
    info["shape"] =
        p.tensor ? p.tensor->shape : std::vector<int64_t>{int64_t(p.size)};
    info["data_offsets"] = {p.begin, p.begin + p.size};
    appendUniqueKey(header, p.name, std::move(info));
  }
  std::string out = header.dump();
  out.append((kAlignment - (8 + out.size()) % kAlignment) % kAlignment, ' ');
  return out;
}

} // namespace

WriteStats writeBundle(const std::string &path, Manifest &manifest,
                       const std::vector<PendingTensor> &tensors,
                       const std::function<void(size_t, size_t)> &progress) {
  // Lay out the data: each tensor aligned, padding tensors in the gaps.
  std::vector<Placed> placed;
  std::set<std::string> names;
  uint64_t offset = 0;
  WriteStats stats;
  for (const PendingTensor &t : tensors) {
    if (t.name.empty() || t.name == "__metadata__" ||
        t.name.rfind(kPadPrefix, 0) == 0 || !names.insert(t.name).second)
      throw Error(path + ": invalid or duplicate tensor name '" + t.name + "'");
    const uint64_t size = declaredBytes(t, path);
    const uint64_t aligned =
        (offset + kAlignment - 1) / kAlignment * kAlignment;
    if (aligned != offset) {
      placed.push_back({nullptr, kPadPrefix + std::to_string(placed.size()),
                        offset, aligned - offset});
      stats.paddingBytes += aligned - offset;
    }
    placed.push_back({&t, t.name, aligned, size});
    offset = aligned + size;
    stats.tensorBytes += size;
    manifest.tensorSha256[t.name] = kPlaceholderHash;
  }
  const std::string provisional = buildHeader(placed, manifest);

  AtomicFileWriter file(path);
  uint8_t prefix[8];
  for (int i = 0; i < 8; ++i)
    prefix[i] = static_cast<uint8_t>(uint64_t(provisional.size()) >> (8 * i));
  file.write(prefix, sizeof(prefix));
  file.write(provisional);
  // Producing a tensor (repacking) and hashing + writing the previous one
  // overlap: a second thread takes each produced buffer. At most two
  // tensors are in memory.
  const std::vector<uint8_t> zeros(kAlignment, 0);
  std::map<std::string, std::string> hashes;
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<uint8_t> pending;
  const Placed *pendingTensor = nullptr;
  bool finished = false;
  std::exception_ptr writeFailure;
  std::thread writer([&] {
    try {
      for (const Placed &p : placed) {
        if (!p.tensor) {
          file.write(zeros.data(), p.size);
          continue;
        }
        std::vector<uint8_t> bytes;
        {
          std::unique_lock<std::mutex> lock(mutex);
          changed.wait(lock, [&] { return pendingTensor || finished; });
          if (!pendingTensor)
            return; // The producer failed.
          bytes.swap(pending);
          pendingTensor = nullptr;
        }
        changed.notify_all();
        hashes[p.name] = sha256(bytes.data(), bytes.size());
        file.write(bytes.data(), bytes.size());
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      writeFailure = std::current_exception();
      finished = true;
      changed.notify_all();
    }
  });
  std::exception_ptr produceFailure;
  try {
    size_t done = 0;
    for (const Placed &p : placed) {
      if (!p.tensor)
        continue;
      std::vector<uint8_t> bytes;
      p.tensor->produce(bytes);
      if (bytes.size() != p.size)
        throw Error(path + ": tensor '" + p.name + "' produced " +
                    std::to_string(bytes.size()) + " bytes, declared " +
                    std::to_string(p.size) + " (a bug in awqc)");
      {
        std::unique_lock<std::mutex> lock(mutex);
        changed.wait(lock, [&] { return !pendingTensor || writeFailure; });
        if (writeFailure)
          break;
        pending.swap(bytes);
        pendingTensor = &p;
      }
      changed.notify_all();
      if (progress)
        progress(++done, tensors.size());
    }
  } catch (...) {
    produceFailure = std::current_exception();
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (produceFailure)
      finished = true;
  }
  changed.notify_all();
  writer.join();
  if (produceFailure)
    std::rethrow_exception(produceFailure);
  if (writeFailure)
    std::rethrow_exception(writeFailure);
  for (auto &[name, hash] : hashes)
    manifest.tensorSha256[name] = hash;
  // The hashes are hex strings of fixed length: the header keeps its size.
  const std::string header = buildHeader(placed, manifest);
  if (header.size() != provisional.size())
    throw Error(path + ": the bundle header changed size (a bug in awqc)");
  file.writeAt(8, header.data(), header.size());
  file.commit();
  stats.tensors = tensors.size();
  stats.fileBytes = 8 + header.size() + offset;
  return stats;
}

//===----------------------------------------------------------------------===//
// Reader
//===----------------------------------------------------------------------===//

Bundle::~Bundle() = default;

const std::string &Bundle::path() const { return file->path(); }

uint64_t Bundle::fileBytes() const {
  uint64_t end = 0;
  for (const TensorView &t : file->tensors())
    end =
        std::max<uint64_t>(end, t.data - file->tensors().front().data + t.size);
  return 8 + file->headerSize() + end;
}

std::unique_ptr<Bundle> Bundle::open(const std::string &path) {
  std::unique_ptr<Bundle> bundle(new Bundle());
  try {
    bundle->file = std::make_unique<SafeTensorsFile>(path);
  } catch (const Error &e) {
    // A missing or unreadable file is I/O; a structural violation is
    // corruption.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
      throw BundleError(BundleError::Io, e.what());
    ::close(fd);
    throw BundleError(BundleError::Corrupt,
                      std::string(e.what()) + " (not a valid bundle)");
  }
  const SafeTensorsFile &file = *bundle->file;
  const auto &meta = file.metadata();
  auto metaField = [&](const char *key) -> const std::string & {
    auto it = meta.find(key);
    if (it == meta.end())
      throw BundleError(BundleError::Corrupt,
                        path +
                            ": not an awqc bundle (safetensors metadata "
                            "has no '" +
                            std::string(key) + "')");
    return it->second;
  };
  if (metaField("format") != kFormatName)
    throw BundleError(BundleError::Corrupt,
                      path + ": not an awqc bundle (metadata format is '" +
                          metaField("format") + "')");
  if (metaField("format_version") != std::to_string(kFormatVersion))
    throw BundleError(
        BundleError::Version,
        path + ": bundle format version " + metaField("format_version") +
            ", this runtime reads version " + std::to_string(kFormatVersion) +
            "; recompile the model with this awqc");
  const std::string &text = metaField("manifest");
  if (sha256(text.data(), text.size()) != metaField("manifest_sha256"))
    throw BundleError(BundleError::Corrupt,
                      path + ": the manifest does not match its SHA-256");
  bundle->manifest_ = manifestFromJson(text, path);
  checkManifest(bundle->manifest_, path);

  // Every tensor the manifest hashes exists, is aligned, and nothing else
  // but padding is stored.
  const uint8_t *base =
      file.tensors().empty() ? nullptr : file.tensors().front().data;
  const uint64_t dataStart = 8 + file.headerSize();
  for (const TensorView &t : file.tensors()) {
    if (t.name.rfind(kPadPrefix, 0) == 0)
      continue;
    if (!bundle->manifest_.tensorSha256.count(t.name))
      throw BundleError(BundleError::Corrupt, path + ": tensor '" + t.name +
                                                  "' is not in the manifest");
    if ((dataStart + uint64_t(t.data - base)) % kAlignment != 0)
      throw BundleError(BundleError::Corrupt,
                        path + ": tensor '" + t.name + "' is not " +
                            std::to_string(kAlignment) + "-byte aligned");
  }
  for (const auto &[tensor, hash] : bundle->manifest_.tensorSha256)
    if (!file.find(tensor))
      throw BundleError(BundleError::Corrupt,
                        path + ": tensor '" + tensor +
                            "' is in the manifest but not in the file");
  // Sources and headers are small: check them now. Weights are checked as
  // they are uploaded (Bundle::verify).
  for (const auto &[include, tensor] : bundle->manifest_.headers)
    bundle->verify(tensor);
  for (const Kernel &kernel : bundle->manifest_.kernels)
    bundle->verify(kernel.source);
  return bundle;
}

const TensorView &Bundle::tensor(const std::string &name) const {
  const TensorView *view = file->find(name);
  if (!view)
    throw BundleError(BundleError::Corrupt,
                      path() + ": no tensor '" + name + "'");
  return *view;
}

std::string Bundle::text(const std::string &name) const {
  const TensorView &view = tensor(name);
  return std::string(reinterpret_cast<const char *>(view.data), view.size);
}

void Bundle::verify(const std::string &name) const {
  const TensorView &view = tensor(name);
  auto it = manifest_.tensorSha256.find(name);
  if (it == manifest_.tensorSha256.end() ||
      sha256(view.data, view.size) != it->second)
    throw BundleError(BundleError::Corrupt,
                      path() + ": tensor '" + name +
                          "' does not match its SHA-256 (the file is "
                          "corrupt)");
}

std::vector<std::pair<std::string, std::string>> Bundle::headerFiles() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto &[include, tensor] : manifest_.headers)
    out.emplace_back(include, text(tensor));
  return out;
}

bool looksLikeBundle(const std::string &path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return false;
  char buffer[512];
  const ssize_t got = ::read(fd, buffer, sizeof(buffer));
  ::close(fd);
  if (got < 16)
    return false;
  const std::string head(buffer + 8, static_cast<size_t>(got - 8));
  return head.find(std::string("\"format\":\"") + kFormatName + "\"") !=
         std::string::npos;
}

} // namespace bundle
} // namespace awq
