#!/usr/bin/env bash
# Installs the Debian packages awqc builds against. Idempotent: installs only
# what is missing, and stops with a clear message when something can't be found.
set -euo pipefail

PACKAGES=(
  cmake ninja-build lld g++ pkg-config python3
  libmlir-22-dev mlir-22-tools llvm-22-dev llvm-22-tools
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas-dev liblapack-dev libboost-context-dev ccache
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}"
  $SUDO apt-get update -qq
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    echo "bootstrap: error: apt-get could not install: ${missing[*]}" >&2
    echo "bootstrap: LLVM/MLIR 22 come from Debian's security suite; check /etc/apt/sources.list(.d)." >&2
    exit 1
  fi
fi

# Things apt does not provide here: the CUDA toolkit (NVRTC and headers).
CUDA_ROOT="${CUDAToolkit_ROOT:-/usr/local/cuda}"
for f in "$CUDA_ROOT/include/nvrtc.h" "$CUDA_ROOT/include/cuda_fp16.h"; do
  if [ ! -f "$f" ]; then
    echo "bootstrap: error: $f not found; install the CUDA toolkit or set CUDAToolkit_ROOT" >&2
    exit 1
  fi
done
# llvm-tblgen generates the command-line option tables (compiler/frontend).
for tool in /usr/lib/llvm-22/bin/mlir-tblgen /usr/lib/llvm-22/bin/llvm-tblgen \
  /usr/lib/llvm-22/bin/FileCheck /usr/lib/llvm-22/bin/lit; do
  if [ ! -x "$tool" ]; then
    echo "bootstrap: error: $tool missing after install" >&2
    exit 1
  fi
done
# The SASS disassembler for awq-kernel-stats and its tests: the toolkit here
# has neither nvdisasm nor cuobjdump, so nvdisasm comes from the
# nvidia-cuda-nvdisasm wheel (13.x reads NVRTC 13.0's CUBINs) in .venv/.
if ! command -v nvdisasm >/dev/null && [ ! -x "$CUDA_ROOT/bin/nvdisasm" ]; then
  ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  VENV="$ROOT/.venv"
  if ! ls "$VENV"/lib/python3*/site-packages/nvidia/cu*/bin/nvdisasm >/dev/null 2>&1; then
    if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
      echo "bootstrap: installing python3-venv"
      $SUDO apt-get update -qq
      DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
    fi
    [ -x "$VENV/bin/pip" ] || python3 -m venv "$VENV"
    # Only awq-kernel-stats needs it (its count tests skip without it), so a
    # machine without PyPI still builds and tests everything else.
    if ! "$VENV/bin/pip" install -q "nvidia-cuda-nvdisasm>=13,<14"; then
      echo "bootstrap: warning: pip could not install nvidia-cuda-nvdisasm into $VENV;" \
        "awq-kernel-stats and its count tests need a disassembler (docs/kernels.md)" >&2
    fi
  fi
fi
echo "bootstrap: all dependencies present"
