#!/usr/bin/env bash
# The README's main command: installs the Debian packages (scripts/install_deps.sh), builds
# cxrsynth (scripts/build.sh) and runs the phantom demo into runs/demo (or $1):
#   build/bin/cxrsynth demo --run-dir runs/demo
# It trains both CycleGANs, synthesizes G_NC and G_PC, runs the experiment grid, prints both
# tables and the verdict, and writes runs/demo/report/index.html. Rerunning reuses what is done.
# Extra arguments after the run directory go to `cxrsynth demo` (e.g. --threads 2).
set -euo pipefail
cd "$(dirname "$0")/.."
run_dir="${1:-runs/demo}"
shift || true
scripts/install_deps.sh
scripts/build.sh
exec build/bin/cxrsynth demo --run-dir "$run_dir" "$@"
