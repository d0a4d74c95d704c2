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
  "$arch" "$filters" "$threads" "$precision")
echo "$arch/$filters, $size px, batch $batch, $precision, $workers workers, $threads threads:"
echo "  $c"
echo "  $p"
echo "$c|$p" | awk -F'|' '
  function num(f,  w, k) { sub(/ images\/s.*/, "", f); k = split(f, w, " "); return w[k] + 0 }
  { if ($2 ~ /skipped/) exit;
  na = split($1, a, ", "); nb = split($2, b, ", ");
  cf = 0; pa = 0;
  for (i = 4; i <= na; ++i) if (a[i] ~ /^model fp32/) cf = num(a[i]);
  for (i = 4; i <= nb; ++i) if (b[i] ~ /^model bf16 autocast/) pa = num(b[i]);
  printf "  ratio cxrsynth/python: model %.2fx, end-to-end %.2fx", num(a[2]) / num(b[2]), num(a[3]) / num(b[3]);
  if (cf > 0 && cf != num(a[2])) printf " (fp32 model alone %.2fx", cf / num(b[2]);
  if (cf > 0 && cf != num(a[2]) && pa > 0) printf "; bf16 model vs Python bf16 autocast %.2fx", num(a[2]) / pa;
  if (cf > 0 && cf != num(a[2])) printf ")";
  printf "\n" }'
