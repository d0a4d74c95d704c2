#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ for a chosen time each, one after the other.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 60 s; targets: csv config image dicom)
#
# Builds them first in build-fuzz/ (clang, -DCXRSYNTH_FUZZ=ON: ASan + UBSan + coverage; override
# the folder with BUILD_DIR=...). Each target starts from fuzz/corpus/<target>/ (seeds and the
# regression inputs CI replays) and grows a working corpus in $WORK_DIR/<target>/ (default
# build-fuzz/work). Crashes land in $WORK_DIR/<target>/artifacts/<date>/ as crash-*, leak-*, oom-*
# or timeout-* (libFuzzer stops a target at its first one); after fixing one, copy it into fuzz/corpus/<target>/ so CI replays it.
# Limits: 2 GiB RSS (-rss_limit_mb), 1 GiB per allocation (-malloc_limit_mb), 10 s per input.
# Prints per target: seconds, executions, coverage (cov: edges, ft: features), crashes.
# Exit status 1 when any target left a crash artifact (slow-unit-* files are only reported:
# on a loaded machine a seed can take seconds). Runs with `nice -n 19` (shared CPUs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_EACH=${1:-60}
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(csv config image dicom)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-fuzz}
WORK_DIR=${WORK_DIR:-$BUILD_DIR/work}
CXX=${CXX_FUZZ:-/usr/bin/clang++}
CC_FUZZ=${CC_FUZZ:-/usr/bin/clang}

if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CXX_COMPILER="$CXX" -DCMAKE_C_COMPILER="$CC_FUZZ" -DCXRSYNTH_FUZZ=ON \
    -DCXRSYNTH_BUILD_TESTS=OFF -DCXRSYNTH_BUILD_BENCHMARKS=OFF -DCXRSYNTH_TCMALLOC=OFF >/dev/null
fi
nice -n 19 ninja -C "$BUILD_DIR" -j"${JOBS:-2}" "${TARGETS[@]/#/fuzz_}"

status=0
printf '%-8s %8s %12s %8s %8s %8s\n' target seconds execs cov ft crashes
for t in "${TARGETS[@]}"; do
  work="$WORK_DIR/$t"
  artifacts="$work/artifacts/$(date +%Y%m%d-%H%M%S)"
  mkdir -p "$work/corpus" "$artifacts"
  log="$work/fuzz.log"
  start=$(date +%s)
  # -detect_leaks=0: DCMTK and OpenCV keep process-lifetime caches that LSan reports.
  ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=0 \
    nice -n 19 "$BUILD_DIR/fuzz/fuzz_$t" "$work/corpus" "$ROOT/fuzz/corpus/$t" \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
    -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    -dict="$ROOT/fuzz/dict/$t.dict" >"$log" 2>&1 || true
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  last=$(grep -E '#[0-9]+.*(cov|ft):' "$log" | tail -1 || true)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*' || echo "?")
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*' || echo "?")
  crashes=$(find "$artifacts" -type f \( -name "crash-*" -o -name "leak-*" -o -name "oom-*" -o -name "timeout-*" \) | wc -l)
  [ "$crashes" -gt 0 ] && status=1
  elapsed=$(($(date +%s) - start))
  printf '%-8s %8s %12s %8s %8s %8s\n' "$t" "$elapsed" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  [ "$crashes" -gt 0 ] && echo "  crash inputs: $artifacts/ (log: $log)"
done
exit $status
