#!/bin/sh
# Prepare throughput, cxrsynth vs pydicom + Pillow, one thread each, on the shared samples:
# the 16 RSNA JPEG-baseline DICOMs (1024 x 1024), the 6 NIH uncompressed DICOMs and the 47
# Cohen PNG/JPEG images. Usage: benchmarks/prepare/run.sh BUILD_DIR [SHARED_DATA] [SIZE] [REPEATS]
set -eu
build=${1:?usage: run.sh BUILD_DIR [SHARED_DATA] [IMAGE_SIZE] [REPEATS]}
shared=${2:-$(dirname "$0")/../../../shared/data}
size=${3:-256}
repeats=${4:-3}
here=$(dirname "$0")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/images"
for set in rsna nih cohen; do
  case $set in
    rsna) files=$(ls "$shared"/rsna-sample/stage_2_train_images/*.dcm) ;;
    nih) files=$(ls "$shared"/nih-dicom-sample/*.dcm) ;;
    cohen) files=$(ls "$shared"/cohen-covid-sample/images/*) ;;
  esac
  c=$("$build/benchmarks/prepare/bench_prepare" "$tmp" "$size" "$repeats" $files)
  p=$(/usr/bin/python3 "$here/prepare_reference.py" "$tmp/py" "$size" "$repeats" $files)
  echo "$set ($size px): $c | $p"
  echo "$c|$p" | awk -F'|' '{ split($1, a, ", "); split($2, b, ", ");
    sub(/ images\/s/, "", a[3]); sub(/ images\/s/, "", b[3]);
    printf "  ratio cxrsynth/python throughput: %.2fx\n", a[3] / b[3] }'
done
