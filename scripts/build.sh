#!/usr/bin/env bash
# Configures and builds cxrsynth into build/ (2 parallel jobs: one TU including LibTorch needs
# about 1 GB of compiler memory). Usage: scripts/build.sh [cmake preset, default: release]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-release}"
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
