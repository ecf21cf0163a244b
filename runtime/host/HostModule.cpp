//===- HostModule.cpp - Run CUDA kernel source on the CPU -----------------===//

#include "runtime/host/HostModule.h"

#include "awq/host/abi.h"
#include "runtime/host/BlockPool.h"
#include "runtime/host/HostCompiler.h"
#include "runtime/support/Error.h"

#include <algorithm>
#include <cctype>
#include <dlfcn.h>
#include <numeric>
#include <set>

namespace awq {
namespace host {

namespace {

bool isIdentifier(const std::string &name) {
  if (name.empty() ||
      !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_'))
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

std::string str(const Dim3 &d) {
  return "(" + std::to_string(d.x) + "," + std::to_string(d.y) + "," +
         std::to_string(d.z) + ")";
}

uint64_t splitmix64(uint64_t &state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

} // namespace

std::shared_ptr<const HostModule>
HostModule::load(const std::string &source,
                 const std::vector<std::string> &kernelNames,
                 const HostCompileOptions &options) {
  if (kernelNames.empty())
    throw Error("host module '" + options.sourceName +
                "': no kernel names given");
  std::set<std::string> unique;
  for (const std::string &kernel : kernelNames) {
    if (!isIdentifier(kernel))
      throw Error("host module '" + options.sourceName + "': kernel name '" +
                  kernel + "' is not a C identifier");
    if (!unique.insert(kernel).second)
      throw Error("host module '" + options.sourceName + "': kernel '" +
                  kernel + "' is listed twice");
  }

  // Opens a build; returns null with `error` set if it does not load.
  auto open = [&](const HostBuild &build,
                  std::string &error) -> std::shared_ptr<HostModule> {
    std::shared_ptr<HostModule> module(new HostModule());
    module->path = build.libraryPath;
    module->name = options.sourceName;
    module->fromCache = build.fromCache;
    module->handle = dlopen(build.libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!module->handle) {
      const char *reason = dlerror();
      error = "host module '" + options.sourceName + "': cannot load '" +
              build.libraryPath + "': " + (reason ? reason : "unknown error");
      return nullptr;
    }
    auto version = reinterpret_cast<AwqHostAbiVersionFn>(
        dlsym(module->handle, AWQ_HOST_ABI_VERSION_SYMBOL));
    module->runBlock = dlsym(module->handle, AWQ_HOST_RUN_BLOCK_SYMBOL);
    if (!version || !module->runBlock) {
      error = "host module '" + options.sourceName + "' (" + build.libraryPath +
              ") lacks the emulation entry points: the source must include "
              "\"awq/platform.cuh\"";
      return nullptr;
    }
    if (version() != AWQ_HOST_ABI_VERSION) {
      error = "host module '" + options.sourceName +
              "' was built for host ABI " + std::to_string(version()) +
              ", the executor speaks " + std::to_string(AWQ_HOST_ABI_VERSION);
      return nullptr;
    }
    for (const std::string &kernel : kernelNames) {
      void *entry =
          dlsym(module->handle, (kernel + AWQ_HOST_ENTRY_SUFFIX).c_str());
      if (!entry) {
        error = "host module '" + options.sourceName + "' has no kernel '" +
                kernel + "': follow its definition with AWQ_HOST_ENTRY(" +
                kernel + ", ArgsType)";
        return nullptr;
      }
      module->entries[kernel] = entry;
    }
    return module;
  };

  HostBuild build = buildHostModule(source, options, /*forceRebuild=*/false);
  std::string error;
  std::shared_ptr<HostModule> module = open(build, error);
  if (!module && build.fromCache) {
    // A cached library that passed its digest check but does not load (e.g.
    // built against a different Boost): rebuild it once.
    build = buildHostModule(source, options, /*forceRebuild=*/true);
    module = open(build, error);
  }
  if (!module)
    throw Error(error);
  return module;
}

HostModule::~HostModule() {
  if (handle)
    dlclose(handle);
}

void HostModule::launch(const std::string &kernelName, Dim3 grid, Dim3 block,
                        size_t dynamicSharedBytes, const void *args,
                        const HostLaunchOptions &options) const {
  const std::string what =
      "host launch of kernel '" + kernelName + "' from '" + name + "' (grid " +
      str(grid) + ", block " + str(block) + ", " +
      std::to_string(dynamicSharedBytes) + " bytes of dynamic shared memory)";
  auto it = entries.find(kernelName);
  if (it == entries.end()) {
    std::string known;
    for (const auto &entry : entries)
      known += (known.empty() ? "" : ", ") + entry.first;
    throw Error(what + ": the module has no such kernel (it has: " + known +
                ")");
  }
  if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u ||
      grid.y > 65535 || grid.z > 65535)
    throw Error(what + ": grid dimensions must be in [1, 2^31-1] x [1, 65535] "
                       "x [1, 65535]");
  if (block.x == 0 || block.y == 0 || block.z == 0 || block.x > 1024 ||
      block.y > 1024 || block.z > 64 || block.count() > 1024)
    throw Error(what + ": block dimensions must be in [1, 1024] x [1, 1024] x "
                       "[1, 64] with at most 1024 threads");
  if (dynamicSharedBytes > options.maxDynamicSharedBytes)
    throw Error(what +
                ": the launch asks for more dynamic shared memory than "
                "the limit of " +
                std::to_string(options.maxDynamicSharedBytes) + " bytes");
  if (!args)
    throw Error(what + ": the kernel arguments pointer is null");
  if (options.stackBytes < 16 * 1024 || options.stackBytes > (64u << 20))
    throw Error(what + ": fiber stack size must be in [16 KiB, 64 MiB], got " +
                std::to_string(options.stackBytes));

  const uint64_t total = grid.count();
  // Shuffled order: i -> (multiplier * i + offset) mod total with the
  // multiplier coprime to total is a permutation that needs no memory.
  uint64_t multiplier = 1, offset = 0;
  if (options.shuffleBlocks && total > 1) {
    uint64_t state = options.shuffleSeed;
    multiplier = splitmix64(state) % total;
    offset = splitmix64(state) % total;
    while (multiplier == 0 || std::gcd(multiplier, total) != 1)
      multiplier = (multiplier + 1) % total;
  }

  AwqHostBlockTask base{};
  base.abiVersion = AWQ_HOST_ABI_VERSION;
  base.kernelName = kernelName.c_str();
  base.entry = reinterpret_cast<void (*)(const void *)>(it->second);
  base.args = args;
  base.gridDim[0] = grid.x;
  base.gridDim[1] = grid.y;
  base.gridDim[2] = grid.z;
  base.blockDim[0] = block.x;
  base.blockDim[1] = block.y;
  base.blockDim[2] = block.z;
  base.dynamicSharedBytes = dynamicSharedBytes;
  const unsigned threads = static_cast<unsigned>(block.count());
  const auto runBlockFn = reinterpret_cast<AwqHostRunBlockFn>(runBlock);

  const BlockPool::Body body = [&](uint64_t index, BlockWorkspace &workspace,
                                   std::string &error) {
    const uint64_t linear = static_cast<uint64_t>(
        (static_cast<unsigned __int128>(multiplier) * index + offset) % total);
    AwqHostBlockTask task = base;
    task.blockIdx[0] = static_cast<uint32_t>(linear % grid.x);
    task.blockIdx[1] = static_cast<uint32_t>((linear / grid.x) % grid.y);
    task.blockIdx[2] =
        static_cast<uint32_t>(linear / (uint64_t(grid.x) * grid.y));
    task.dynamicShared = workspace.shared(dynamicSharedBytes);
    task.stacks = workspace.stacks(threads, options.stackBytes);
    task.stackBytes = workspace.stackBytes();
    task.error = workspace.errorBuffer();
    task.errorCapacity = workspace.errorCapacity();
    task.error[0] = '\0';
    if (runBlockFn(&task) == 0)
      return true;
    error = task.error;
    return false;
  };
  const std::string error =
      BlockPool::instance().run(total, options.maxThreads, body);
  if (!error.empty())
    throw Error(what + ": " + error);
}

} // namespace host
} // namespace awq
