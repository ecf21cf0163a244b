//===- TestUtil.cpp - Temporary directories, raw files and random data ----===//

#include "TestUtil.h"

#include "runtime/support/Half.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

namespace awq::test {

namespace fs = std::filesystem;

TempDir::TempDir() {
  const char *base = std::getenv("TMPDIR");
  std::string pattern =
      std::string(base && *base ? base : "/tmp") + "/awqc-formats-XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (!::mkdtemp(buffer.data()))
    throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = buffer.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  for (const fs::directory_entry &entry : fs::directory_iterator(path_))
    names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out)
    throw std::runtime_error("cannot write " + path);
}

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string rawSafeTensors(const std::string &header, const std::string &data,
                           std::optional<uint64_t> lengthOverride) {
  const uint64_t length = lengthOverride.value_or(header.size());
  std::string bytes;
  for (int i = 0; i < 8; ++i)
    bytes.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  return bytes + header + data;
}

std::mt19937_64 &rng() {
  static std::mt19937_64 engine = [] {
    uint64_t seed;
    if (const char *fixed = std::getenv("AWQC_TEST_SEED"))
      seed = std::strtoull(fixed, nullptr, 10);
    else
      seed = (uint64_t(std::random_device{}()) << 32) ^ std::random_device{}();
    std::cerr << "[formats_tests] AWQC_TEST_SEED=" << seed << "\n";
    return std::mt19937_64(seed);
  }();
  return engine;
}

std::vector<uint16_t> randomHalves(size_t count) {
  std::uniform_real_distribution<float> magnitude(-10.0f, 2.0f);
  std::bernoulli_distribution negative(0.5);
  std::vector<uint16_t> values(count);
  for (uint16_t &value : values) {
    float v = std::exp2(magnitude(rng()));
    value = floatToHalf(negative(rng()) ? -v : v);
  }
  return values;
}

QuantizedLinear randomLayer(int64_t k, int64_t n, QuantParams params,
                            bool withBias) {
  QuantizedLinear layer;
  layer.k = k;
  layer.n = n;
  layer.params = params;
  std::uniform_int_distribution<int> value(0, (1 << params.bits) - 1);
  layer.q.resize(static_cast<size_t>(k * n));
  for (uint8_t &q : layer.q)
    q = static_cast<uint8_t>(value(rng()));
  const size_t groups = static_cast<size_t>(k / params.groupSize * n);
  if (params.zeroPoint) {
    layer.zeros.resize(groups);
    for (uint8_t &z : layer.zeros)
      z = static_cast<uint8_t>(value(rng()));
  }
  layer.scales = randomHalves(groups);
  if (withBias)
    layer.bias = randomHalves(static_cast<size_t>(n));
  return layer;
}

std::string expectError(const std::function<void()> &body,
                        std::initializer_list<std::string> fragments) {
  try {
    body();
  } catch (const Error &error) {
    const std::string message = error.what();
    for (const std::string &fragment : fragments)
      EXPECT_NE(message.find(fragment), std::string::npos)
          << "message lacks \"" << fragment << "\": " << message;
    return message;
  } catch (const std::exception &other) {
    ADD_FAILURE() << "expected awq::Error, got another exception: "
                  << other.what();
    return other.what();
  }
  ADD_FAILURE() << "expected awq::Error, nothing was thrown";
  return "";
}

} // namespace awq::test
