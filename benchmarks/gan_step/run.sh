#!/bin/sh
# One CycleGAN training step, cxrsynth (train::cyclegan_step, what train-gan runs) vs
# PyTorch-Python (the reference CycleGAN's optimize_parameters with the same layers), batch 1,
# same threads, paired in the same run for each architecture and size.
#
# Usage: benchmarks/gan_step/run.sh BUILD_DIR [THREADS] [SIZES] [ARCHS]
#   THREADS  torch threads for both sides (default: nproc)
#   SIZES    default "64 128 256"
#   ARCHS    default "unet resnet": unet = configs/paper.json (authors' U-Net 32 filters +
#            16x16-patch discriminator 64), resnet = configs/reference.json (ResNet-9 64 filters
#            + 70x70 PatchGAN 64)
#   GAN_STEP_REPEAT=N (environment) multiplies the timed steps (default 1);
#   GAN_STEP_WARMUP=W, GAN_STEP_STEPS=N set the warm-up and timed steps of every pair.
# Prints per pair one line
#   GAN-STEP arch=A preset=P size=S batch=1 threads=T steps=K cxrsynth_s=X python_s=X
#     ratio=X cxrsynth_gflops=X python_gflops=X gflop_per_step=X
#     cxrsynth_cpu_s=X python_cpu_s=X cpu_ratio=X gflop_per_step=X
# (seconds per step are medians; ratio = cxrsynth_s / python_s, below 1 = cxrsynth faster;
# GFLOP/s = gflop_per_step / seconds, the same analytic count for both sides, README.md;
# *_cpu_s: process CPU seconds per step, which for THREADS=1 stay close to the idle wall time
# on a loaded machine; with more threads they include OpenMP spinning).
set -eu
build=${1:?usage: run.sh BUILD_DIR [THREADS] [SIZES] [ARCHS]}
threads=${2:-$(nproc)}
sizes=${3:-64 128 256}
archs=${4:-unet resnet}
repeat=${GAN_STEP_REPEAT:-1}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
bin="$build/benchmarks/gan_step/bench_gan_step"
[ -x "$bin" ] || { echo "gan_step: $bin not built (ninja -C $build bench_gan_step)" >&2; exit 1; }

# Allocator: cxrsynth executables link tcmalloc (CXRSYNTH_TCMALLOC); give Python the same one.
tcm=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
if ldd "$bin" | grep -q tcmalloc; then c_alloc=tcmalloc; else c_alloc="glibc malloc"; fi
if [ -r "$tcm" ]; then
  py_preload=$tcm
  py_alloc="tcmalloc (LD_PRELOAD=$tcm)"
else
  py_preload=
  py_alloc="glibc malloc ($tcm not found)"
fi
echo "gan_step: one CycleGAN training step, batch 1, $threads thread(s); allocator: cxrsynth $c_alloc, python $py_alloc; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"

for arch in $archs; do
  case $arch in
    unet) preset=paper ;;
    resnet) preset=reference ;;
    *) echo "gan_step: unknown arch '$arch' (unet, resnet)" >&2; exit 2 ;;
  esac
  for size in $sizes; do
    # Warm-up and timed steps: enough for a median, the whole default run about 2 minutes.
    case "$arch/$size" in
      unet/64) w=3; n=15 ;; unet/128) w=2; n=8 ;; unet/*) w=1; n=5 ;;
      resnet/64) w=2; n=8 ;; resnet/128) w=1; n=4 ;; *) w=1; n=3 ;;
    esac
    n=$((n * repeat))
    w=${GAN_STEP_WARMUP:-$w}
    n=${GAN_STEP_STEPS:-$n}
    c=$("$bin" "$root/configs/$preset.json" "$size" 1 "$threads" "$w" "$n")
    fields=$(echo "$c" | sed 's/^cxrsynth: //; s/ threads=.*//')
    # shellcheck disable=SC2086
    p=$(LD_PRELOAD=$py_preload /usr/bin/python3 "$here/gan_step_reference.py" "$threads" "$w" \
      "$n" $fields)
    echo "  $c"
    echo "  $p"
    echo "$c|$p" | awk -F'|' -v arch="$arch" -v preset="$preset" -v size="$size" \
      -v threads="$threads" -v n="$n" '
      function get(s, k,   m) { if (match(s, " " k "=[^ ]*")) { m = substr(s, RSTART + length(k) + 2, RLENGTH - length(k) - 2); return m } return "" }
      { cs = get($1, "median_s"); gf = get($1, "gflop_per_step");
        if ($2 ~ /skipped/) { ps = "NA" } else { ps = get($2, "median_s"); pgf = get($2, "gflop_per_step") }
        if (ps != "NA" && (pgf - gf > 0.001 * gf || gf - pgf > 0.001 * gf))
          printf "  WARNING: FLOP counts differ: cxrsynth %s, python hooks %s GFLOP/step\n", gf, pgf;
        printf "GAN-STEP arch=%s preset=%s size=%s batch=1 threads=%s steps=%s cxrsynth_s=%s python_s=%s ", arch, preset, size, threads, n, cs, ps;
        if (ps == "NA") printf "ratio=NA cxrsynth_gflops=%.1f python_gflops=NA", gf / cs;
        else printf "ratio=%.3f cxrsynth_gflops=%.1f python_gflops=%.1f", cs / ps, gf / cs, gf / ps;
        cc = get($1, "cpu_s"); pc = (ps == "NA") ? "NA" : get($2, "cpu_s");
        if (pc == "NA") printf " cxrsynth_cpu_s=%s python_cpu_s=NA cpu_ratio=NA", cc;
        else printf " cxrsynth_cpu_s=%s python_cpu_s=%s cpu_ratio=%.3f", cc, pc, cc / pc;
        printf " gflop_per_step=%s\n", gf }'
  done
done
