#!/usr/bin/env bash
# The whole benchmark suite of issue 8: every benchmark next to its PyTorch-Python (or pydicom +
# Pillow) reference in the same run, then a table with the machine, the measured fp32 peak and
# one line per goal (P1 ... P5: figure, target, met / not met) plus each classifier's GFLOP/s
# and share of peak. The table is also written to BUILD_DIR/benchmarks/results.txt.
#
# Usage: benchmarks/run.sh [--quick] [BUILD_DIR]      (BUILD_DIR defaults to build)
#   --quick   skip P5 (the demo: about 260 s by itself on 2 idle cores).
# Time on 2 idle cores, estimated from the step times of the last idle --quick run (601 s with
# the earlier, longer settings; BENCHMARKS.md): about 530-550 s in all, P5 included (machine
# 4 s, P4 130, P1 80, GAN-STEP 47, P2 + P3 25, P5 260; benchmarks/README.md); the table's last
# line gives each block's measured time.
# Environment: DATA (the sample data of P3, default ../shared/data), THREADS (default 2), SIZE (classifier input, default 256), BATCH (default 16),
#   STEPS (CycleGAN steps of P1, default 100: 2 checkpoints and sample grids, as 200 had 4),
#   P1_DEFAULTS_STEPS (steps of the Python-defaults P1 run, scaled to STEPS; default 20),
#   SYNTH_N (images of P2, default 32), GAN_STEP_SIZES (default: 64 and 128 px for both
#   architectures with few timed steps plus one U-Net step at 256 px; "64 128 256" = gan_step's
#   own full set), PEAK (GFLOP/s: use instead of the measured peak, e.g. when the machine is
#   busy), KEEP=1 keeps the scratch directory.
#
# Python reference "best" settings: THREADS threads, OpenBLAS (the system alternative),
# tcmalloc LD_PRELOADed (Debian's libtcmalloc_minimal.so.4); "default": no preload, PyTorch's
# own thread count. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE: when the environment sets them
# (some processors), this script unsets them for its own benchmark commands only and says so
# (OPENBLAS_CORETYPE=Haswell halves sgemm on AVX-512 CPUs); tests and CI never change them.
set -euo pipefail

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
threads=${THREADS:-2}
size=${SIZE:-256}
batch=${BATCH:-16}
steps=${STEPS:-100}
py=/usr/bin/python3
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
cli=$build/bin/cxrsynth
out=$build/benchmarks/results.txt
tmp=$(mktemp -d)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$tmp"' EXIT
mkdir -p "$(dirname "$out")"

envnote="OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE not set"
if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
  envnote="OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-} were set; UNSET for these benchmark commands only"
  unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
fi
best=(env LD_PRELOAD="$tcmalloc")
[ -f "$tcmalloc" ] || best=(env)
secs() { date +%s.%N; }
calc() { awk "BEGIN { print ($1) }"; }  # arithmetic and comparisons (1 / 0)
# Every "== name" line of the log starts a block; its wall time goes to $tmp/blocks.
block=""
block_end() {
  [ -z "$block" ] || printf '%s %.0f s\n' "$block" "$(calc "$(secs) - $block_t0")" >> "$tmp/blocks"
  block=""
}
log() {
  case "$*" in "== "*) block_end; block=$(echo "${*#== }" | cut -d' ' -f1); block_t0=$(secs) ;; esac
  echo "$*" | tee -a "$tmp/log"
}
T0=$(secs)

# ---- machine and peak -------------------------------------------------------------------
log "== machine and fp32 FMA peak"
"$build/benchmarks/peak/bench_peak" "$threads" | tee "$tmp/peak"
peak=$(awk '/^peak:/ { print $2 }' "$tmp/peak")
peak_note="measured"
if [ -n "${PEAK:-}" ]; then peak=$PEAK; peak_note="given by PEAK (measured: $(awk '/^peak:/ { print $2 }' "$tmp/peak"))"; fi
log "ldd cxrsynth: $(ldd "$cli" | awk '/tcmalloc|libtorch_cpu|libblas|gomp/ { printf "%s ", $1 }')"
log "python: $($py -c 'import torch; print("torch", torch.__version__, "default threads", torch.get_num_threads())' 2>&1)"

# ---- P4: classifier training step --------------------------------------------------------
log "== P4 classifier training step: $size px, batch $batch, $threads threads"
declare -A c_s p_s pd_s gflop
for arch in vgg16 resnet50 densenet121; do
  # ResNet-50 / DenseNet-121 (the goals): median of 3 steps (idle spread of the 3: 0.1-1.3%);
  # VGG-16 (no target, 11 s a step): 1 step. Each after 1 warm-up step.
  reps=3; [ "$arch" = vgg16 ] && reps=1
  c=$("$build/benchmarks/classifier_step/bench_classifier_step" "$arch" "$size" "$batch" "$threads" "$reps")
  p=$("${best[@]}" $py "$here/classifier_step/classifier_step_reference.py" "$arch" "$size" "$batch" "$threads" "$reps")
  log "  $c"; log "  $p (best settings)"
  c_s[$arch]=$(echo "$c" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')
  p_s[$arch]=$(echo "$p" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')
  gflop[$arch]=$(echo "$p" | sed -n 's/.*forward GFLOP \([0-9.]*\).*/\1/p')
done
p=$($py "$here/classifier_step/classifier_step_reference.py" resnet50 "$size" "$batch" 0 1)
log "  $p (Python defaults: no tcmalloc, PyTorch's thread count)"
pd_s[resnet50]=$(echo "$p" | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')

# ---- P1: CycleGAN training from files, end to end ----------------------------------------
log "== P1 CycleGAN training end to end, cpu-small preset, $steps steps"
gan_sets=(--set gan.epochs=2 --set gan.decay_epochs=1 --set "gan.steps_per_epoch=$((steps / 2))"
  --set gan.checkpoint_every=50 --set gan.sample_every=50)
"$cli" prepare --config "$root/configs/cpu-small.json" --run-dir "$tmp/run" -q > "$tmp/prepare.log" 2>&1
a=$(secs)
p1_ok=1
"$cli" train-gan --config "$root/configs/cpu-small.json" --run-dir "$tmp/run" --task normal-vs-covid \
  --threads "$threads" "${gan_sets[@]}" -q > "$tmp/train-gan.log" 2>&1 || { p1_ok=0; tail -5 "$tmp/train-gan.log"; }
c_gan=$(calc "$(secs) - $a")
py_sets=()
for ((i = 1; i < ${#gan_sets[@]}; i += 2)); do py_sets+=("${gan_sets[i]}"); done
a=$(secs)
pg=$("${best[@]}" $py "$here/gan_train/gan_train_reference.py" "$tmp/run" "$tmp/py-gan" normal-vs-covid \
  "$root/configs/cpu-small.json" "$threads" "${py_sets[@]}")
p_gan=$(calc "$(secs) - $a")
# Python defaults: informational and 1.8x slower, so a shorter run of dsteps steps (same
# schedule shape, no periodic checkpoint) scaled to $steps: its wall time + the remaining
# steps x its seconds per step in the loop (an estimate; the table says so).
dsteps=${P1_DEFAULTS_STEPS:-20}
a=$(secs)
pgd=$($py "$here/gan_train/gan_train_reference.py" "$tmp/run" "$tmp/py-gan-d" normal-vs-covid \
  "$root/configs/cpu-small.json" 0 gan.epochs=2 gan.decay_epochs=1 "gan.steps_per_epoch=$((dsteps / 2))" \
  gan.checkpoint_every=50 gan.sample_every=50)
pd_wall=$(calc "$(secs) - $a")
pd_step=$(echo "$pgd" | sed -n 's/.*(\([0-9.]*\) s\/step in the loop).*/\1/p')
pd_gan=$(calc "$pd_wall + ($steps - $((dsteps / 2 * 2))) * ${pd_step:-0}")
log "  cxrsynth train-gan: $(printf %.2f "$c_gan") s wall"
log "  $pg; $(printf %.2f "$p_gan") s wall (best settings)"
log "  $pgd; $(printf %.2f "$pd_wall") s wall (Python defaults; for $steps steps: about $(printf %.1f "$pd_gan") s)"

# ---- CycleGAN step (benchmarks/gan_step, when present) -----------------------------------
if [ -x "$here/gan_step/run.sh" ]; then
  log "== GAN-STEP CycleGAN training step (benchmarks/gan_step)"
  # 64 and 128 px with fewer timed steps than gan_step's own defaults (idle spread of its
  # medians: 1-3%), then one timed step at 256 px (U-Net: 1.3 s a step; the ResNet-9 at 256 px,
  # 11 s a step, is left to GAN_STEP_SIZES="64 128 256" or benchmarks/gan_step/run.sh).
  if [ -n "${GAN_STEP_SIZES:-}" ]; then
    "$here/gan_step/run.sh" "$build" "$threads" "$GAN_STEP_SIZES"
  else
    for w_n_size_arch in "1 4 64 unet" "1 4 128 unet" "1 3 64 resnet" "1 1 128 resnet" "1 1 256 unet"; do
      set -- $w_n_size_arch
      GAN_STEP_WARMUP=$1 GAN_STEP_STEPS=$2 "$here/gan_step/run.sh" "$build" "$threads" "$3" "$4" |
        grep -v '^gan_step: one CycleGAN'
    done
  fi 2>&1 | tee -a "$tmp/log" | grep '^GAN-STEP' > "$tmp/gan_step" || true
fi

# ---- P2: synthesis ----------------------------------------------------------------------
log "== P2 synthesis: cxrsynth bf16 (where the CPU has it) vs Python fp32"
prec=fp32
grep -qw -e avx512_bf16 -e amx_bf16 /proc/cpuinfo && prec=bf16
"${best[@]}" "$here/synth/run.sh" "$build" 256 "${SYNTH_N:-32}" 8 unet 32 "$prec" 2 "$threads" | tee "$tmp/synth" | tee -a "$tmp/log"
p2=$(sed -n 's/.*end-to-end \([0-9.]*\)x.*/\1/p' "$tmp/synth")

# ---- P3: prepare ------------------------------------------------------------------------
log "== P3 prepare: cxrsynth vs pydicom + Pillow"
# The real-format samples (../shared/data beside the repository, or DATA=...); without them
# P3 says so instead of stopping the suite.
data=${DATA:-$root/../shared/data}
p3=""
if [ -d "$data/rsna-sample" ] && [ -d "$data/cohen-covid-sample" ]; then
  "$here/prepare/run.sh" "$build" "$data" 256 3 | tee "$tmp/prepare" | tee -a "$tmp/log"
  p3=$(sed -n 's/.*throughput: \([0-9.]*\)x.*/\1/p' "$tmp/prepare" | sort -g | head -1)
else
  log "  skipped: no sample data at $data (set DATA=.../shared/data)"
fi

# ---- P5: demo ---------------------------------------------------------------------------
p5_line="P5 demo: skipped (--quick; see BENCHMARKS.md for the last measurement)"
if [ $quick = 0 ]; then
  log "== P5 demo (peak memory = sum of the RSS of all demo processes, sampled every 0.2 s)"
  a=$(secs)
  $py "$here/peak_rss.py" "$tmp/demo.rss" "$cli" demo --run-dir "$tmp/demo" --threads "$threads" -q \
    > "$tmp/demo.log" 2>&1 || { tail -20 "$tmp/demo.log"; echo "demo failed"; }
  d=$(calc "$(secs) - $a")
  rss=$(cat "$tmp/demo.rss")
  met=$(calc "$d <= 300 && $rss <= 4096")
  p5_line=$(printf "P5 demo: %.0f s, peak RSS %.0f MiB (target <= 300 s, <= 4096 MiB): %s" "$d" "$rss" \
    "$([ "$met" = 1 ] && echo met || echo NOT met)")
fi

# ---- table ------------------------------------------------------------------------------
block_end
verdict() { [ "$(calc "$1")" = 1 ] && echo met || echo "NOT met"; }
{
  echo "cxrsynth benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  sed -n 's/^/machine: /p' "$tmp/peak" | grep -v '^machine: peak'
  echo "machine: $envnote"
  echo "peak: $peak GFLOP/s fp32 ($threads threads, FMA micro-benchmark; $peak_note)"
  r1=$(calc "$c_gan / $p_gan")
  [ $p1_ok = 1 ] || echo "P1 CycleGAN training end to end: cxrsynth train-gan FAILED (see the log below): NOT met"
  [ $p1_ok = 1 ] && printf "P1 CycleGAN training end to end (cpu-small, %d steps): cxrsynth %.1f s, Python %.1f s (defaults about %.0f s, scaled from %d steps): ratio %.2f (target <= 0.8): %s\n" \
    "$steps" "$c_gan" "$p_gan" "$pd_gan" "$((dsteps / 2 * 2))" "$r1" "$(verdict "$r1 <= 0.8")"
  printf "P2 synthesis end to end (U-Net 32 filters, 256 px, batch 8, cxrsynth %s vs Python fp32): %.2fx (target >= 1.8x): %s\n" \
    "$prec" "${p2:-0}" "$(verdict "${p2:-0} >= 1.8")"
  if [ -n "$p3" ]; then
    printf "P3 prepare throughput vs pydicom + Pillow (2 threads vs 2 processes, same PNG settings; lowest of RSNA / NIH / Cohen): %.2fx (target >= 3x): %s\n" \
      "$p3" "$(verdict "$p3 >= 3")"
  else
    echo "P3 prepare throughput vs pydicom + Pillow: skipped (no sample data at $data; set DATA)"
  fi
  for arch in resnet50 densenet121 vgg16; do
    g=$(calc "3 * ${gflop[$arch]} / ${c_s[$arch]}")
    share=$(calc "100 * $g / $peak")
    target=""; [ $arch = resnet50 ] && target=65; [ $arch = densenet121 ] && target=55
    tgt_text="no target"; [ -n "$target" ] && tgt_text="target >= $target%: $(verdict "$share >= $target")"
    printf "P4 %s training step (%d px, batch %d): cxrsynth %.3f s, Python %.3f s, ratio %.2f, %.0f GFLOP/s, %.0f%% of peak (%s)\n" \
      "$arch" "$size" "$batch" "${c_s[$arch]}" "${p_s[$arch]}" "$(calc "${c_s[$arch]} / ${p_s[$arch]}")" \
      "$g" "$share" "$tgt_text"
  done
  printf "P4 note: Python resnet50 at its defaults %.3f s; GFLOP/s = 3 x forward FLOP of convolutions and linear layers / step time\n" "${pd_s[resnet50]}"
  echo "$p5_line"
  [ -s "$tmp/gan_step" ] && cat "$tmp/gan_step"
  printf "total benchmark time: %.0f s (blocks: %s)\n" "$(calc "$(secs) - $T0")" "$(paste -sd, "$tmp/blocks" | sed 's/,/, /g')"
} > "$tmp/table"
echo
echo "================================================================================"
cat "$tmp/table"
{ cat "$tmp/table"; echo; echo "---- log"; cat "$tmp/log"; } > "$out"
echo "(written to $out)"
