#!/usr/bin/env bash
# Installs dependencies (idempotently), configures and builds awqc into
# ${AWQC_BUILD_DIR:-build} with Ninja, lld and two jobs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${AWQC_BUILD_DIR:-$ROOT/build}"
"$ROOT/.ci/bootstrap.sh"
cmake -G Ninja -S "$ROOT" -B "$BUILD" \
  -DCMAKE_BUILD_TYPE=Release \
  -DMLIR_DIR=/usr/lib/llvm-22/lib/cmake/mlir \
  -DLLVM_EXTERNAL_LIT=/usr/lib/llvm-22/bin/lit \
  -DCUDAToolkit_ROOT="${CUDAToolkit_ROOT:-/usr/local/cuda}" >/dev/null
ninja -C "$BUILD" -j"${AWQC_JOBS:-2}"
