#!/usr/bin/env bash
# Full-size SD3-family checks on the GPU machine (issue: real checkpoints). Run from the repo root:
#   bash scripts/gpu/realcheck.sh <stage>...
# stages: tiny                       smoke test of the whole chain on a small model (seconds)
#         make:<model>[:none]        random-weight diffusers checkpoint (sd3m | sd35m | sd35l; ":none" = no text encoders)
#         ref:<model>                diffusers reference outputs + PyTorch timings (512², 1024²)
#         bench:<model>:<precision>  Flowfill (Node + Dawn, WebGPU) vs the reference; peak GPU memory from nvidia-smi
#         rm:<model>                 free the disk
# Environment: RUNS (5), NODE_FLAGS (e.g. --liftoff-only).
# Results: $OUT/<model>-<precision>.json, $OUT/ref-<model>.json, $OUT/realcheck.log (everything printed).
set -u
source scripts/gpu/setup.sh .device-carry/gpu
export FLOWFILL_DAWN_FLAGS="enable-dawn-features=vulkan_enable_f16_on_nvidia"
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/ck /tmp/ref
LOG="$OUT/realcheck.log"
say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG"; }

peak_gpu_mib() { cut -d, -f2 "$1" | sort -n | tail -1 | tr -d ' '; }

bench() {
  local model=$1 precision=$2
  local smi=/tmp/smi-$model-$precision.log
  # Timestamped, and kept in $OUT: with the bench's startedEpochMs and its log's elapsed seconds, the
  # peak can be placed in a phase (weight upload, a step at one size, the decode).
  nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 200 > "$smi" 2>/dev/null &
  local sampler=$!
  local base; base=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
  say "bench $model $precision (GPU memory in use before: ${base} MiB)"
  # NODE_FLAGS=--liftoff-only skips V8's optimising compile of onnxruntime's wasm, which held the first
  # fused-attention check for ~30 s (measured through Dawn on SwiftShader: 37.8 s → 1.75 s); whether
  # the baseline code slows session creation of the large graphs is not measured, so it is opt-in.
  /usr/bin/time -v $FF/node ${NODE_FLAGS:-} --max-old-space-size=200000 $FF/bench-real.mjs --model /tmp/ck/$model --reference /tmp/ref/$model \
    --precision "$precision" --runs "${RUNS:-5}" --out "$OUT/$model-$precision.json" 2>&1 | grep --line-buffered -v '^ \|^{\|^}' | tee -a "$LOG"
  kill $sampler 2>/dev/null; wait $sampler 2>/dev/null
  gzip -c "$smi" > "$OUT/smi-$model-$precision.csv.gz"
  local peak; peak=$(peak_gpu_mib "$smi")
  say "peak GPU memory $model $precision: ${peak} MiB (${base} MiB before)"
  python3 - "$OUT/$model-$precision.json" "$peak" "$base" <<'PY'
import json, sys
path, peak, base = sys.argv[1], int(sys.argv[2] or 0), int(sys.argv[3] or 0)
try:
    report = json.load(open(path))
except Exception:
    sys.exit(0)
report["gpuPeakMiB"], report["gpuBeforeMiB"] = peak, base
json.dump(report, open(path, "w"), indent=1)
PY
}

for stage in "$@"; do
  IFS=: read -r what model extra <<< "$stage"
  case $what in
    tiny)
      say "tiny chain"
      python3 model/realcheck/reference.py make --model tiny --out /tmp/ck/tiny 2>&1 | tee -a "$LOG"
      python3 model/realcheck/reference.py outputs --folder /tmp/ck/tiny --out /tmp/ref/tiny --sizes 256,512 2>&1 | tail -3 | tee -a "$LOG"
      bench tiny fp32
      bench tiny fp16 ;;
    make)
      say "make $model ${extra:-full}"
      python3 model/realcheck/reference.py make --model "$model" --out /tmp/ck/$model --encoders "${extra:-full}" 2>&1 | tee -a "$LOG" ;;
    ref)
      say "reference $model"
      python3 model/realcheck/reference.py outputs --folder /tmp/ck/$model --out /tmp/ref/$model 2>&1 | tail -3 | tee -a "$LOG"
      cp /tmp/ref/$model/reference.json "$OUT/ref-$model.json" ;;
    bench) bench "$model" "$extra" ;;
    rm) rm -rf /tmp/ck/$model /tmp/ref/$model; say "removed $model" ;;
    *) say "unknown stage $stage" ;;
  esac
done
say "done; disk: $(df -h /tmp | tail -1)"
