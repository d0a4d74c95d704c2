#!/bin/sh
# Synthesis throughput, cxrsynth vs PyTorch-Python, same generator architecture and batch, in
# the same run. Usage: benchmarks/synth/run.sh BUILD_DIR [SIZE] [N] [BATCH] [ARCH] [FILTERS]
#   [PRECISION] [WORKERS] [THREADS]   (defaults: 256 32 8 unet 32 fp32 2 2: the authors' U-Net)
set -eu
build=${1:?usage: run.sh BUILD_DIR [SIZE] [N] [BATCH] [ARCH] [FILTERS] [PRECISION] [WORKERS] [THREADS]}
size=${2:-256}; n=${3:-32}; batch=${4:-8}; arch=${5:-unet}; filters=${6:-32}
precision=${7:-fp32}; workers=${8:-2}; threads=${9:-2}
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
c=$("$build/benchmarks/synth/bench_synth" "$tmp" "$size" "$n" "$batch" "$arch" "$filters" \
  "$precision" "$workers" "$threads")
p=$(/usr/bin/python3 "$here/bench_synth_reference.py" "$tmp/in" "$tmp/py" "$size" "$n" "$batch" \
  "$arch" "$filters" "$threads")
echo "$arch/$filters, $size px, batch $batch, $precision, $workers workers, $threads threads:"
echo "  $c"
echo "  $p"
echo "$c|$p" | awk -F'|' '{ if ($2 ~ /skipped/) exit;
  split($1, a, ", "); split($2, b, ", ");
  sub(/model /, "", a[2]); sub(/ images\/s/, "", a[2]); sub(/model /, "", b[2]); sub(/ images\/s/, "", b[2]);
  sub(/end-to-end /, "", a[3]); sub(/ images\/s/, "", a[3]); sub(/end-to-end /, "", b[3]); sub(/ images\/s/, "", b[3]);
  printf "  ratio cxrsynth/python: model %.2fx, end-to-end %.2fx\n", a[2] / b[2], a[3] / b[3] }'
