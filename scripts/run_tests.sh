#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine: installs what is missing, builds with
# -Werror, runs every test (labels: unit, integration). Tests that need ../shared/data skip
# with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh --browser
scripts/build.sh ci
ctest --preset ci "$@"
