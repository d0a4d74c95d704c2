#!/bin/sh
# Prepare throughput, cxrsynth vs pydicom + Pillow, on the shared samples: the 16 RSNA
# JPEG-baseline DICOMs (1024 x 1024), the 6 NIH uncompressed DICOMs and the 47 Cohen PNG/JPEG
# images. Usage: benchmarks/prepare/run.sh BUILD_DIR [SHARED_DATA] [SIZE] [REPEATS] [THREADS]
#
# Per set, side by side:
#   - the P3 figure ("ratio ... throughput: N x"): cxrsynth's stage on THREADS threads (argument,
#     else $THREADS, else 2: what `cxrsynth prepare` uses here) vs the Python reference on THREADS worker
#     processes, both writing PNGs with the same settings (comparable files);
#   - the CPU time per image of both sides in that run (it hardly moves with the machine's
#     load, unlike the throughput: a cross-check on shared machines);
#   - one thread vs one Python process (same PNG settings);
#   - the Python reference with Pillow's default PNG settings (zlib level 6), THREADS processes.
# The Python side runs with Debian's tcmalloc preloaded when present (its best settings).
set -eu
build=${1:?usage: run.sh BUILD_DIR [SHARED_DATA] [IMAGE_SIZE] [REPEATS] [THREADS]}
shared=${2:-$(dirname "$0")/../../../shared/data}
size=${3:-256}
repeats=${4:-3}
threads=${5:-${THREADS:-2}}
here=$(dirname "$0")
bench="$build/benchmarks/prepare/bench_prepare"
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
py() { if [ -f "$tcmalloc" ]; then LD_PRELOAD="$tcmalloc" /usr/bin/python3 "$@"; else /usr/bin/python3 "$@"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/images"
# images/s and CPU ms per image of a "cxrsynth: ..." or "python: ..." line
rate() { echo "$1" | sed -n 's/.*, \([0-9.]*\) images\/s.*/\1/p'; }
cpu() { echo "$1" | sed -n 's/.*cpu \([0-9.]*\) ms\/image.*/\1/p'; }
ratio() { awk -v a="$(rate "$1")" -v b="$(rate "$2")" 'BEGIN { printf "%.2f", a / b }'; }
cpu_ratio() { awk -v a="$(cpu "$1")" -v b="$(cpu "$2")" 'BEGIN { printf "%.2f", b / a }'; }
for set in rsna nih cohen; do
  case $set in
    rsna) files=$(ls "$shared"/rsna-sample/stage_2_train_images/*.dcm) ;;
    nih) files=$(ls "$shared"/nih-dicom-sample/*.dcm) ;;
    cohen) files=$(ls "$shared"/cohen-covid-sample/images/*) ;;
  esac
  cn=$("$bench" "$tmp" "$size" "$repeats" "$threads" $files)
  pn=$(py "$here/prepare_reference.py" --workers "$threads" "$tmp/py" "$size" "$repeats" $files)
  c1=$("$bench" "$tmp" "$size" "$repeats" 1 $files)
  p1=$(py "$here/prepare_reference.py" --workers 1 "$tmp/py" "$size" "$repeats" $files)
  pd=$(py "$here/prepare_reference.py" --workers "$threads" --png pillow-default "$tmp/py" "$size" "$repeats" $files)
  echo "$set ($size px, $threads threads vs $threads processes): $cn | $pn"
  echo "  ratio cxrsynth/python throughput: $(ratio "$cn" "$pn")x"
  echo "  CPU time per image: cxrsynth $(cpu "$cn") ms, python $(cpu "$pn") ms: $(cpu_ratio "$cn" "$pn")x less (load-insensitive cross-check)"
  echo "  1 thread vs 1 process: cxrsynth $(rate "$c1") images/s, python $(rate "$p1") images/s: $(ratio "$c1" "$p1")x"
  echo "  python with Pillow's default PNG settings (level 6), $threads processes: $(rate "$pd") images/s: cxrsynth $(ratio "$cn" "$pd")x"
done
