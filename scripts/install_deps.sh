#!/usr/bin/env bash
# The one list of system packages cxrsynth needs on Debian 12 (bookworm).
# Idempotent and non-interactive; returns in about a second when everything is present.
#   scripts/install_deps.sh            build + test + report dependencies
#   scripts/install_deps.sh --browser  also Chromium (for the HTML report screenshot test)
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # LibTorch (CPU) and the libraries it is fastest with (see docs: OpenBLAS replaces the
  # reference BLAS through Debian's alternatives; tcmalloc avoids glibc page-fault storms)
  libtorch-dev libopenblas0-openmp libgoogle-perftools-dev libtcmalloc-minimal4
  libgloo-dev
  # images, DICOM, CLI, JSON, logging
  libopencv-dev libdcmtk-dev libcli11-dev nlohmann-json3-dev libfmt-dev libspdlog-dev
  # tests and benchmarks
  googletest libgtest-dev libgmock-dev libbenchmark-dev clang-format
  # Python side: reference checks (torch, torchvision, pydicom, scipy for FID), report (matplotlib, umap)
  python3 python3-numpy python3-torch python3-torchvision python3-pydicom python3-pil
  python3-matplotlib umap-learn python3-scipy
)
if [[ "${1:-}" == "--browser" ]]; then
  packages+=(chromium)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install_deps: installing ${#missing[@]} package(s): ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
