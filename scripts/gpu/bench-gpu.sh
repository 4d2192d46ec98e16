#!/usr/bin/env bash
# npm run bench:gpu — the default model through Node + Dawn (WebGPU) on the GPU machine, which has
# no Node: pack here, run there from the repository root (scripts/gpu/README.md has the commands).
#   bash scripts/gpu/bench-gpu.sh [case]...     cases: <size>[:liftoff|:capture|:nocapture]   (default: 256 512 512:nocapture)
# Each case is a fresh process: `bench --backend webgpu --size <size>x<size> --steps 20 --guidance 5
# --runs $RUNS`, so its first image is a cold start (process start to first PNG, also measured from
# the tool's module load) and the later images are warm. ":liftoff" runs node with --liftoff-only
# (V8's baseline wasm compiler only), to see how much of the cold start is V8 optimising
# onnxruntime's wasm. Graph capture is the bench's default (auto: on for the default model);
# ":nocapture" runs the regular loop (--graph-capture off), ":capture" forces it on (the log says whether the
# replay passed its check, and how far a replayed image is from the regular one). nvidia-smi samples the GPU every 100 ms; GPU busy % is averaged over the warm
# images only, peak GPU memory over the whole process.
# Results: $OUT/bench-gpu-<case>.json (the bench's report plus gpu{...}), $OUT/bench-gpu.log.
# Several packages in one call: MODELS="dir1 dir2" benches each (default: models/default), and
# REBUILD="unfused fused" first writes models/default with its transformer rebuilt by
# `rebuild-transformer` (one package per attention form, under /tmp) and benches those too; with
# more than one package the results are $OUT/bench-gpu-<package folder name>-<case>.json, and a
# table of warm times per package closes the log.
set -u
CARRY=${CARRY:-.device-carry/gpu}
if [ -f "$CARRY/node.xz" ]; then
  source scripts/gpu/setup.sh "$CARRY"
  NODE=$FF/node
  BENCH=$FF/bench.mjs
  REBUILD_TOOL=$FF/rebuild-transformer.mjs
else
  # No pack here: a machine with Node and node_modules (e.g. the smoke check on a CPU machine).
  NODE=node
  BENCH="node_modules/tsx/dist/cli.mjs worker/cli/bench.ts"
  REBUILD_TOOL="node_modules/tsx/dist/cli.mjs worker/cli/rebuild-transformer.ts"
fi
export FLOWFILL_DAWN_FLAGS=${FLOWFILL_DAWN_FLAGS-enable-dawn-features=vulkan_enable_f16_on_nvidia}
OUT=${OUT:-/tmp/out}
RUNS=${RUNS:-5}
STEPS=${STEPS:-20}
GUIDANCE=${GUIDANCE:-5}
mkdir -p "$OUT"
LOG="$OUT/bench-gpu.log"
say() { echo "[$(date +%H:%M:%S)] $*" | tee -a "$LOG"; }
have_smi=1
command -v nvidia-smi > /dev/null || { have_smi=0; say "no nvidia-smi: GPU busy % and memory are not sampled"; }

read -r -a models <<< "${MODELS:-models/default}"
for attention in ${REBUILD:-}; do
  rebuilt=/tmp/ff-rebuilt-$attention/default-rebuilt-$attention
  say "rebuilding models/default's transformer (attention $attention) into $rebuilt"
  # shellcheck disable=SC2086
  $NODE $REBUILD_TOOL models/default -o "$rebuilt" --attention "$attention" --force 2>&1 | tee -a "$LOG"
  models+=("$rebuilt")
done

[ $# -gt 0 ] || set -- 256 512 512:nocapture
reports=()
for model in "${models[@]}"; do
for case in "$@"; do
  IFS=: read -r size variant <<< "$case"
  flags=()
  bench_flags=()
  [ "${variant:-}" = liftoff ] && flags+=(--liftoff-only)
  [ "${variant:-}" = capture ] && bench_flags+=(--graph-capture on)
  [ "${variant:-}" = nocapture ] && bench_flags+=(--graph-capture off)
  name=${case/:/-}
  [ ${#models[@]} -gt 1 ] && name="$(basename "$model")-$name"
  json="$OUT/bench-gpu-$name.json"
  smi=/tmp/smi-bench-$name.csv
  sampler=
  if [ $have_smi = 1 ]; then
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader,nounits -lms 100 > "$smi" 2>/dev/null &
    sampler=$!
  fi
  say "case $case ($model): ${size}x${size}, $STEPS steps, guidance $GUIDANCE, $RUNS images, node ${flags[*]:-(default flags)}"
  launched=$(date +%s%3N)
  # shellcheck disable=SC2086
  $NODE "${flags[@]}" --max-old-space-size=16000 $BENCH --backend webgpu --model "$model" \
    --size "${size}x${size}" --steps "$STEPS" --guidance "$GUIDANCE" --runs "$RUNS" "${bench_flags[@]}" --out "$json" 2>&1 | tee -a "$LOG"
  [ -n "$sampler" ] && { kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null; }
  python3 - "$json" "$launched" "$smi" <<'PY' | tee -a "$LOG"
import datetime, json, os, sys
path, launched, smi = sys.argv[1], int(sys.argv[2]), sys.argv[3]
try:
    report = json.load(open(path))
except Exception as error:
    print(f"no report at {path}: {error}")
    sys.exit(0)
first_png = next((p["epochMs"] for p in report["phases"] if p["phase"] == "image 1/%d" % report["images"]), None)
last_png = next((p["epochMs"] for p in report["phases"] if p["phase"] == "image %d/%d" % (report["images"], report["images"])), None)
gpu = {"shellLaunchToFirstPngMs": first_png - launched if first_png else None}
samples = []
if os.path.exists(smi):
    for line in open(smi):
        parts = [p.strip() for p in line.split(",")]
        try:
            at = datetime.datetime.strptime(parts[0], "%Y/%m/%d %H:%M:%S.%f").timestamp() * 1000
            samples.append((at, float(parts[1]), float(parts[2])))
        except (ValueError, IndexError):
            pass
if samples:
    warm = [busy for at, busy, _ in samples if first_png and last_png and first_png <= at <= last_png]
    gpu.update({
        "samples": len(samples),
        "peakMemoryMiB": max(mem for _, _, mem in samples),
        "memoryBeforeMiB": samples[0][2],
        "busyPercentWarmMean": sum(warm) / len(warm) if warm else None,
        "busyPercentWarmMax": max(warm) if warm else None,
        "warmSamples": len(warm),
    })
report["gpu"] = gpu
json.dump(report, open(path, "w"), indent=1)
print("gpu:", json.dumps(gpu))
PY
  reports+=("$json")
done
done
if [ ${#reports[@]} -gt 1 ]; then
  python3 - "${reports[@]}" <<'PY' | tee -a "$LOG"
import json, os, sys
print("warm medians per report (ms): denoise step | loop / steps | image; GPU busy % (warm mean); images replayed, check")
for path in sys.argv[1:]:
    try:
        report = json.load(open(path))
    except Exception as error:
        print(f"{os.path.basename(path)}: no report ({error})")
        continue
    rows = {row.get("stage"): row for row in report.get("rows", [])}
    warm = lambda stage: rows.get(stage, {}).get("warmMs")
    fmt = lambda v: f"{v:.1f}" if isinstance(v, (int, float)) else "?"
    busy = report.get("gpu", {}).get("busyPercentWarmMean")
    capture = report.get("graphCapture", {})
    replayed = f"{capture.get('capturedImages', '?')} replayed" + (f", max diff {capture['checkMaxLevelDiff']} levels" if "checkMaxLevelDiff" in capture else "") + (f", FAILED: {capture['failure']}" if capture.get("failure") else "")
    print(f"{os.path.basename(path)}: {fmt(warm('denoise step, median'))} | {fmt(warm('denoise loop / steps'))} | {fmt(warm('image (prompt to PNG)'))}; {fmt(busy)} %; {replayed}")
PY
fi
say "done"
