//===- BundleBuilder.cpp - Kernel-level awq IR to a model.awqb bundle -----===//

#include "compiler/bundle/BundleBuilder.h"

#include "compiler/execute/WeightEvaluator.h"
#include "compiler/formats/QuantizedCheckpoint.h"
#include "dialects/awq/AwqDialect.h"
#include "dialects/awq/KernelSchedules.h"
#include "runtime/formats/MappedFile.h"
#include "runtime/support/Error.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/SHA256.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

namespace fs = std::filesystem;
namespace ir = mlir::awq;

namespace awq {
namespace {

/// One layer's kernel ops: a single kernel, or the pair a select_by_rows
/// picks between (GEMV below gemmMinM rows, GEMM from there).
struct LayerOps {
  mlir::Operation *gemv = nullptr, *gemm = nullptr;
  int64_t gemmMinM = 1;
  std::string function;
};

std::vector<LayerOps> collectLayers(mlir::ModuleOp module) {
  std::vector<LayerOps> layers;
  llvm::DenseSet<mlir::Operation *> seen;
  module.walk([&](mlir::Operation *op) {
    if (!mlir::isa<ir::GemvKernelOp, ir::GemmKernelOp>(op) || seen.count(op))
      return;
    LayerOps layer;
    if (auto func = op->getParentOfType<mlir::func::FuncOp>())
      layer.function = func.getSymName().str();
    ir::SelectByRowsOp select;
    for (mlir::Operation *user : op->getResult(0).getUsers())
      if (auto s = mlir::dyn_cast<ir::SelectByRowsOp>(user))
        select = s;
    if (select) {
      layer.gemv = select.getSmall().getDefiningOp();
      layer.gemm = select.getLarge().getDefiningOp();
      layer.gemmMinM = select.getGemmMinM();
      if (!mlir::isa_and_nonnull<ir::GemvKernelOp>(layer.gemv) ||
          !mlir::isa_and_nonnull<ir::GemmKernelOp>(layer.gemm))
        throw Error("awq.select_by_rows must pick between an awq.gemv_kernel "
                    "and an awq.gemm_kernel");
    } else {
      (mlir::isa<ir::GemvKernelOp>(op) ? layer.gemv : layer.gemm) = op;
    }
    for (mlir::Operation *kernel : {layer.gemv, layer.gemm})
      if (kernel)
        seen.insert(kernel);
    layers.push_back(layer);
  });
  return layers;
}

/// A layer's kernel ops with the M range each serves, dropping a kernel
/// that serves no M up to maxM.
std::vector<std::pair<mlir::Operation *, bundle::KernelUse>>
kernelUses(const LayerOps &layer, int64_t maxM) {
  std::vector<std::pair<mlir::Operation *, bundle::KernelUse>> uses;
  const int64_t split = layer.gemv && layer.gemm
                            ? std::max<int64_t>(layer.gemmMinM, 1)
                        : layer.gemv ? maxM + 1
                                     : 1;
  if (layer.gemv && split > 1)
    uses.push_back({layer.gemv,
                    {ir::getKernelOperands(layer.gemv).kernelName.str(),
                     KernelFamily::Gemv, 1, std::min(split - 1, maxM)}});
  if (layer.gemm && split <= maxM)
    uses.push_back({layer.gemm,
                    {ir::getKernelOperands(layer.gemm).kernelName.str(),
                     KernelFamily::Gemm, split, maxM}});
  return uses;
}

std::string layerName(mlir::Operation *op) {
  std::string names = llvm::join(ir::getSourceTensors(op->getOperand(1)), ", ");
  return names.empty() ? "(unnamed)" : names;
}

/// The device library's headers, by include name.
std::map<std::string, fs::path> deviceHeaders(const std::string &includeDir) {
  std::map<std::string, fs::path> headers;
  const fs::path root(includeDir);
  std::error_code ec;
  for (fs::recursive_directory_iterator it(root / "awq", ec), end;
       !ec && it != end; it.increment(ec)) {
    const fs::path &file = it->path();
    const std::string ext = file.extension().string();
    if (it->is_regular_file() && (ext == ".h" || ext == ".cuh"))
      headers[file.lexically_relative(root).generic_string()] = file;
  }
  if (ec || headers.empty())
    throw Error(includeDir + ": the device library's headers (awq/*.cuh) "
                             "are not there; set AWQ_DEVICE_INCLUDE_DIR");
  return headers;
}

void appendBytes(std::vector<uint8_t> &out, const void *data, size_t size) {
  const uint8_t *p = static_cast<const uint8_t *>(data);
  out.insert(out.end(), p, p + size);
}

} // namespace

std::vector<LayerKernels> layerKernels(mlir::ModuleOp module, int64_t maxM) {
  std::vector<LayerKernels> out;
  for (const LayerOps &ops : collectLayers(module)) {
    mlir::Operation *any = ops.gemv ? ops.gemv : ops.gemm;
    LayerKernels layer{layerName(any), ir::getKernelInstance(any).shape, {}};
    for (auto &[op, use] : kernelUses(ops, maxM))
      layer.kernels.push_back(use);
    out.push_back(std::move(layer));
  }
  return out;
}

bundle::Manifest describeBundle(mlir::ModuleOp module,
                                const std::vector<ir::EmittedKernel> &kernels,
                                const BundleOptions &options) {
  if (options.maxM < 1 || options.maxM > bundle::kMaxRowsLimit)
    throw Error("max M must be in [1, " +
                std::to_string(bundle::kMaxRowsLimit) + "], got " +
                std::to_string(options.maxM));
  bundle::Manifest m;
  m.compiler = options.compiler;
  m.inputPath = options.inputPath;
  m.inputSha256 = options.inputSha256;
  auto target = module->getAttrOfType<ir::TargetAttr>(
      ir::AwqDialect::getTargetAttrName());
  if (!target)
    throw Error("the module has no awq.target (run --awq-select-kernels)");
  m.target = target.getName().str();
  m.targetSms = target.getSmCount();
  m.maxM = options.maxM;
  m.hasWeights = options.weights != nullptr;
  for (const auto &[include, file] : deviceHeaders(options.deviceIncludeDir))
    m.headers[include] = "include/" + include;

  std::map<std::string, const ir::EmittedKernel *> emitted;
  for (const ir::EmittedKernel &kernel : kernels)
    emitted[kernel.name] = &kernel;
  std::map<std::string, std::vector<std::string>> serves;
  const std::vector<LayerOps> layers = collectLayers(module);
  for (size_t i = 0; i < layers.size(); ++i) {
    bundle::Layer layer;
    mlir::Operation *any = layers[i].gemv ? layers[i].gemv : layers[i].gemm;
    layer.name = layerName(any);
    for (const std::string &tensor : ir::getSourceTensors(any->getOperand(1)))
      layer.sources.push_back(tensor);
    layer.function = layers[i].function;
    layer.shape = ir::getKernelInstance(any).shape;
    for (auto &[op, use] : kernelUses(layers[i], options.maxM)) {
      auto it = emitted.find(use.kernel);
      if (it == emitted.end())
        throw Error("layer " + layer.name + ": kernel '" + use.kernel +
                    "' was not emitted");
      try {
        (void)it->second->instance.launch(use.maxM);
      } catch (const Error &e) {
        throw Error("layer " + layer.name + " cannot run M = " +
                    std::to_string(use.maxM) + " (lower --max-m): " + e.what());
      }
      const char *family = familyName(use.family);
      bundle::LayoutBuffers buffers;
      buffers.qweight =
          bundle::layerTensor(i, family + std::string(".qweight"));
      buffers.scales = bundle::layerTensor(i, family + std::string(".scales"));
      if (layer.shape.zeroPoint)
        buffers.zeros = bundle::layerTensor(i, family + std::string(".zeros"));
      layer.layouts[use.family] = buffers;
      layer.kernels.push_back(use);
      serves[use.kernel].push_back(layer.name);
    }
    if (layer.shape.bias)
      layer.bias = bundle::layerTensor(i, "bias");
    if (layer.shape.actScale)
      layer.actScale = bundle::layerTensor(i, "act_scale");
    m.layers.push_back(std::move(layer));
  }
  // Kernels no layer runs below max M are left out.
  for (const ir::EmittedKernel &kernel : kernels) {
    auto it = serves.find(kernel.name);
    if (it == serves.end())
      continue;
    m.kernels.push_back({kernel.name, kernel.instance,
                         "kernels/" + kernel.name + ".cu", it->second});
  }
  return m;
}

bundle::WriteStats
writeModuleBundle(mlir::ModuleOp module,
                  const std::vector<ir::EmittedKernel> &kernels,
                  const std::string &path, const BundleOptions &options,
                  bundle::Manifest *written) {
  bundle::Manifest m = describeBundle(module, kernels, options);
  std::vector<bundle::PendingTensor> tensors;
  for (const auto &[include, file] : deviceHeaders(options.deviceIncludeDir)) {
    const std::string fileName = file.string();
    tensors.push_back({"include/" + include,
                       DType::U8,
                       {int64_t(fs::file_size(file))},
                       [fileName](std::vector<uint8_t> &out) {
                         const std::string text = readRegularFile(fileName);
                         appendBytes(out, text.data(), text.size());
                       }});
  }
  for (const bundle::Kernel &kernel : m.kernels) {
    const std::string *source = nullptr;
    for (const ir::EmittedKernel &k : kernels)
      if (k.name == kernel.name)
        source = &k.source;
    tensors.push_back({kernel.source,
                       DType::U8,
                       {int64_t(source->size())},
                       [source](std::vector<uint8_t> &out) {
                         appendBytes(out, source->data(), source->size());
                       }});
  }

  for (const BundleOptions::AotCubin &image : options.aot) {
    if (!m.findKernel(image.kernel))
      continue; // A kernel no layer runs below max M.
    const bool ptx = image.target.rfind("compute_", 0) == 0;
    const std::string tensor =
        "aot/" + image.target + "/" + image.kernel + (ptx ? ".ptx" : ".cubin");
    m.aot.push_back({image.kernel, image.target, tensor});
    const std::vector<char> *cubin = &image.cubin;
    tensors.push_back({tensor,
                       DType::U8,
                       {int64_t(cubin->size())},
                       [cubin](std::vector<uint8_t> &out) {
                         appendBytes(out, cubin->data(), cubin->size());
                       }});
  }

  // Weights, one layer at a time: the evaluator is cleared whenever the
  // writer moves on to the next layer.
  std::unique_ptr<WeightEvaluator> evaluator;
  if (options.weights) {
    evaluator = std::make_unique<WeightEvaluator>(*options.weights);
    evaluator->setDropMergedParts(true);
  }
  auto current = std::make_shared<size_t>(SIZE_MAX);
  const std::vector<LayerOps> layers = collectLayers(module);
  for (size_t i = 0; i < m.layers.size() && evaluator; ++i) {
    const bundle::Layer &layer = m.layers[i];
    WeightEvaluator *eval = evaluator.get();
    auto enter = [eval, current, i]() {
      if (*current != i) {
        eval->clear();
        *current = i;
      }
    };
    // Scales, zero terms, bias and activation scale: bits of the layer's
    // activation type.
    const DType elementType = activationDType(layer.shape.activation);
    size_t familiesLeft = layer.layouts.size();
    for (const auto &[family, buffers] : layer.layouts) {
      mlir::Operation *op =
          family == KernelFamily::Gemv ? layers[i].gemv : layers[i].gemm;
      const mlir::Value weight = ir::getKernelOperands(op).weight;
      const WeightBuffers sizes = weightBuffers(family, layer.shape);
      const std::string what = layer.name;
      const bool last = --familiesLeft == 0;
      // The family's buffers, taken from the evaluator by the first tensor
      // and released by the last: moved into the writer, never copied.
      auto held = std::make_shared<std::shared_ptr<KernelWeights>>();
      tensors.push_back(
          {buffers.qweight,
           DType::U8,
           {sizes.qweightBytes},
           [eval, weight, enter, sizes, what, held,
            last](std::vector<uint8_t> &out) {
             enter();
             *held = eval->takePacked(weight);
             const KernelWeights &w = **held;
             const size_t scales = size_t(sizes.scaleRows * sizes.scaleCols);
             if (w.qweight.size() != size_t(sizes.qweightBytes) ||
                 w.scales.size() != scales ||
                 w.zeros.size() != (sizes.zeros ? scales : 0))
               throw Error(what + ": the repacked buffers do not have the "
                                  "sizes the layout declares (a bug in awqc)");
             out = std::move((*held)->qweight);
             // The layer's last layout is out: its logical weights can go.
             if (last)
               eval->clear();
           }});
      const bool zeros = !buffers.zeros.empty();
      tensors.push_back({buffers.scales,
                         elementType,
                         {sizes.scaleRows, sizes.scaleCols},
                         [held, zeros](std::vector<uint8_t> &out) {
                           const std::vector<uint16_t> &v = (*held)->scales;
                           appendBytes(out, v.data(), v.size() * 2);
                           if (!zeros)
                             held->reset();
                         }});
      if (zeros)
        tensors.push_back({buffers.zeros,
                           elementType,
                           {sizes.scaleRows, sizes.scaleCols},
                           [held](std::vector<uint8_t> &out) {
                             const std::vector<uint16_t> &v = (*held)->zeros;
                             appendBytes(out, v.data(), v.size() * 2);
                             held->reset();
                           }});
    }
    mlir::Operation *any = layers[i].gemv ? layers[i].gemv : layers[i].gemm;
    const ir::KernelOperands operands = ir::getKernelOperands(any);
    auto vector = [eval, enter](mlir::Value value, int64_t length,
                                std::string what) {
      return [eval, enter, value, length, what](std::vector<uint8_t> &out) {
        enter();
        const std::vector<uint16_t> &v = eval->vector(value);
        if (int64_t(v.size()) != length)
          throw Error(what + ": expected " + std::to_string(length) +
                      " values, got " + std::to_string(v.size()));
        appendBytes(out, v.data(), v.size() * 2);
      };
    };
    if (!layer.bias.empty())
      tensors.push_back(
          {layer.bias,
           elementType,
           {layer.shape.n},
           vector(operands.bias, layer.shape.n, layer.name + " bias")});
    if (!layer.actScale.empty())
      tensors.push_back({layer.actScale,
                         elementType,
                         {layer.shape.k},
                         vector(operands.actScale, layer.shape.k,
                                layer.name + " activation scale")});
  }
  bundle::WriteStats stats =
      bundle::writeBundle(path, m, tensors, options.progress);
  if (written)
    *written = std::move(m);
  return stats;
}

std::vector<std::pair<std::string, std::string>>
readDeviceHeaders(const std::string &includeDir) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto &[include, file] : deviceHeaders(includeDir))
    out.emplace_back(include, readRegularFile(file.string()));
  return out;
}

std::string hashInput(const std::string &path) {
  llvm::SHA256 hash;
  // Read in chunks rather than mapped: the hash runs beside the compile,
  // and a second mapping of the weights would count in its resident memory.
  std::vector<uint8_t> chunk(size_t(1) << 20);
  auto addFile = [&](const fs::path &file, const std::string &name) {
    const std::string field = name + '\0';
    hash.update(llvm::StringRef(field.data(), field.size()));
    std::ifstream in(file, std::ios::binary);
    if (!in)
      throw Error(file.string() + ": cannot read it to hash the input");
    while (in) {
      in.read(reinterpret_cast<char *>(chunk.data()),
              static_cast<std::streamsize>(chunk.size()));
      const std::streamsize got = in.gcount();
      if (got > 0)
        hash.update(llvm::ArrayRef<uint8_t>(chunk.data(), size_t(got)));
    }
    if (in.bad())
      throw Error(file.string() + ": read error while hashing the input");
  };
  if (fs::is_directory(path)) {
    std::vector<fs::path> files;
    for (const auto &entry : fs::recursive_directory_iterator(path)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && !name.empty() && name[0] != '.')
        files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path &file : files)
      addFile(file, file.lexically_relative(path).generic_string());
  } else {
    addFile(path, fs::path(path).filename().string());
  }
  return llvm::toHex(hash.final(), /*LowerCase=*/true);
}

} // namespace awq
