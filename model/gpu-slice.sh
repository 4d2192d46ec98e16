#!/usr/bin/env bash
# One GPU slice of the default model's training (model/README.md, "Training in GPU slices"):
#
#   OUT=/some/dir bash model/gpu-slice.sh <slice-seconds>
#
# It restores the previous slice's state if one was carried, trains until the time limit, evaluates,
# exports the package, and leaves the new state, the report and the logs in $OUT. The first slice
# (no state carried) also runs pytest and a tiny end-to-end smoke run of every stage first, and
# measures v1 once.
#
# Carried (git-ignored) inputs, relative to the repository root:
#   model/.cache/data/                    the dataset (node model/data/build-dataset.mjs)       ~24 MiB
#   model/.cache/resume/resume.tar.part*  the state $OUT returned last time (absent at first)  ~20 MiB
#   model/.cache/v1/v1-fp16.npz           v1's weights for its evaluation (first slice only)    13 MiB
# Written to $OUT (at most 8 files, each under 15 MiB):
#   resume.tar.partNN   the new state: package/ (what models/default/ holds), extras.json, classifier.npz
#   eval.tar            report.json, sample grids, training composites, train-log.txt
#   report.json         the evaluation (also inside eval.tar)
#   log.txt             everything this script printed
# Environment: EVAL=quick evaluates in seconds instead of ~90 s (for slices between full evaluations; then
# RESERVE_S=70 is enough); SKIP_CHECKS=1 skips pytest + smoke; DIT_TOTAL_S (default 1100) is the planned DiT time over
# all slices (the learning-rate schedule's length); VAE_S (170), CLF_S (60) the first slice's stages
# (shortened automatically when the slice is too short for them; CLF_S is also a new judge's time, when
# RUN_ARGS="--judge-input N" replaces the judge: carry model/.cache/v1 then, so v1 is measured again by it);
# RESERVE_S (150) the time kept for
# evaluation + export (the log prints what they took);
# RUN_ARGS adds arguments to flowfill.run (RUN_ARGS=--smoke runs this whole script in minutes on a CPU; with a
# carried state it rehearses that state's next slice, its own networks for a few steps and a tiny judge, e.g.
# RUN_ARGS="--smoke --device cpu --judge-input 128", ~3 min on 2 cores;
# RUN_ARGS=--accept-data-change resumes a state saved before data_content_sha256 whose whole-manifest hash
# differs, e.g. after a change of the caption templates only; RUN_ARGS="--train-subjects v1|core" trains the MM-DiT on
# v1's 200 subjects only, or on the core vocabulary (v1's 200 emoji + the icons evaluation set's 200), recorded
# in the state and the report);
# GPUS overrides the number of GPU processes (default: every GPU; GPUS=2 with RUN_ARGS="--smoke --device cpu"
# runs the data-parallel path on a CPU through gloo).
# TEACHER_FROM_STATE=1 makes the carried state's own transformer the teacher (.cache/teacher) before training, so
# that one call starts a guidance distillation from a plain state with RUN_ARGS="… --teacher .cache/teacher
# --distill-guidance G" without carrying the teacher beside it (a 16-block state, its teacher and the dataset
# together pass a call's 64 MiB; later calls of the same distillation do carry it).
# STEP_BENCH="<args>" runs python3 -m flowfill.step_bench <args> first, inside the slice's limit (e.g. "--variants
# 5x16 --cuda-graphs --steps 10", ~60 s: CUDA graphs against eager on this machine). CUDA_GRAPHS=auto runs that
# bench (unless STEP_BENCH names another) and adds --cuda-graphs to RUN_ARGS when its verdict says to use them
# (flowfill.step_bench.graphs_verdict: training faster at every shape, the same first loss, the same teacher
# forward and not slower).
# RESERVE_S must hold the evaluation and the export: measured on one H200 in session 29, the full evaluation took
# 98–135 s, the quick one 9–12 s, and the export with its parity check 60–130 s (the transformer's ONNX export alone
# 46–102 s), so RESERVE_S=280 (full) or 150 (quick) keeps a slice inside its limit (a guidance-distilled student's
# full evaluation draws five images a prompt in its sampler search since session 38: 119 s on an H100 in session 39,
# against slice 51's 111 s with one, so 280 still holds);
# at RESERVE_S=160 a full slice ran ~95 s over and a 600 s call was stopped before its state was packed.
# A slice stopped by a signal (a call's time limit) keeps its work folder /tmp/flowfill-slice.* (under
# FLOWFILL_SLICE_TMP if set) instead of deleting it: if the run had finished, the next call on the same warm
# machine packs that state into its own $OUT with
#   OUT=$OUT bash model/gpu-slice.sh --pack-kept
# (it packs only a run that wrote its report, the last thing flowfill.run writes).
# CHECK_CARRIED and CHECK_NEW are flowfill.sampler_check argument sets separated by ";" (e.g. "--seeds 5; --size 512
# --seeds 3", n = 1,000 at 256² and 600 at 512²), run on the carried state before training and on the new state after
# it. Each JSON, with every image's results for python3 -m flowfill.paired here, comes back in $OUT/checks.tar as
# checks/<carried|new>-[<set>-]t<size>-sh<shift>-g<guidance>-n<images>[-s<seed index>][-l<limit>].json (flowfill.paired.check_name;
# the set named unless it is v1_emoji). CHECK_NEW's time comes out of the training's
# (CHECK_RESERVE_S, default 60: two such checks took 37 s in session 29).
# KEEP_STATE=1 also leaves the new state in model/.cache/resume, so a next call on the same warm machine, issued in the
# same message with no carry, resumes from it at once (the data and a teacher stay there too): the machine goes back
# 30 s after a call, sooner than a 34-MB state comes back and travels out again.
# A check call: the checks alone, on a state already on the machine (a KEEP_STATE=1 call's model/.cache/resume, a
# carried folder, or the working tree's model/eval/<line>), no training:
#   OUT=$OUT CHECKS="--size 512 --seeds 3; --set icons --seeds 5 --int8-products" \
#     CHECK_ARGS="--seed-index 5 --guidance 2 --shift 6 --steps 10" bash model/gpu-slice.sh --check <state> <label>
# <state> is a state folder or a folder of resume.tar.part*, relative to where it is run; each JSON comes back as
# checks/<label>-<check_name>.json in $OUT/checks.tar, named as the call's own are (e.g. "call24-icons-t512-…").
# CHECK_ARGS is added to every set of CHECKS, CHECK_NEW and CHECK_CARRIED; CHECK_TIMEOUT_S (default none) stops a
# single check that runs long, and checks.tar is written again after every check, so a call stopped at its limit
# still returns the ones done.
# RETURN_STATE=0 leaves the new state out of $OUT (the evaluation still comes back): for a one-call
# experiment whose state could not travel again anyway, e.g. the 320-wide widening (~48 MB of state
# beside the 22 MiB dataset passes a call's 64 MiB), so that what comes back stays within its limits.
set -euo pipefail
limit=${1:?usage: OUT=dir bash model/gpu-slice.sh <slice-seconds> | --pack-kept | --check <state> <label>}
: "${OUT:?set OUT to the folder that comes back}"
if [ "$limit" = --check ]; then
  checked=${2:?usage: OUT=dir CHECKS="<set>; <set>" bash model/gpu-slice.sh --check <state> <label>}
  checked=$(cd "$checked" && pwd)  # the script works in model/; the state is named from where it is run
  label=${3:?name the checked state, e.g. call24: its JSONs are checks/<label>-<check name>.json}
  : "${CHECKS:?set CHECKS to sampler_check argument sets separated by ;}"
fi
t0=$(date +%s)
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/model"
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
tmp_root=${FLOWFILL_SLICE_TMP:-/tmp}  # where work folders live (tests point it elsewhere)

# <folder>/resume.tar.partNN <- the state in <work>/resume-out, in parts under a returned file's 15 MiB.
split_state() {  # <work> <folder>
  tar -C "$1/resume-out" -cf - . | split -b 15M -d - "$2/resume.tar.part"
}

# $OUT <- the state in <work>/resume-out (unless RETURN_STATE=0) and <work>/eval's report and pictures.
pack() {  # <work>
  if [ "${RETURN_STATE:-1}" = 0 ]; then
    echo "== RETURN_STATE=0: the state ($(du -sh "$1/resume-out" | cut -f1)) stays on this machine"
  else
    split_state "$1" "$OUT"
  fi
  cp "$1/eval/report.json" "$OUT/report.json"
  # Full-size 512 px grids are dropped, last first, while the archive would pass 15 MiB.
  (
    cd "$1/eval"
    grids=(grid-512-[0-9].png)
    [ -e "${grids[0]}" ] || grids=()
    while :; do
      present=()
      for f in report.json train-log.txt held-out-256.png aspect-samples.png grid-512-small.png training-composites; do
        [ -e "$f" ] && present+=("$f")
      done
      tar -cf "$OUT/eval.tar" "${present[@]}" "${grids[@]}"
      [ "$(stat -c %s "$OUT/eval.tar")" -le $((15 * 1024 * 1024)) ] || [ ${#grids[@]} -eq 0 ] && break
      grids=("${grids[@]:0:${#grids[@]}-1}")
    done
  )
  ls -la "$OUT"
}

if [ "$limit" = --pack-kept ]; then
  # The newest kept folder whose run finished: flowfill.run writes eval/report.json after the state.
  kept=$(ls -dt "$tmp_root"/flowfill-slice.*/ 2>/dev/null | while read -r d; do
    [ -f "$d/eval/report.json" ] && [ -f "$d/resume-out/extras.json" ] && { echo "${d%/}"; break; }; done || true)
  [ -n "$kept" ] || { echo "no kept slice folder holds a finished run (eval/report.json): nothing to pack"; exit 2; }
  echo "== packing the state a stopped slice left in $kept"
  pack "$kept"
  rm -rf "$kept"
  exit 0
fi

# sampler_check on <state folder> for each ";"-separated argument set; $OUT/checks.tar holds every JSON so far.
run_checks() {  # <carried|new> <state folder> <argument sets>
  local sets args json name
  mkdir -p "$work/checks"
  IFS=';' read -ra sets <<< "$3"
  for args in "${sets[@]}"; do
    [ -n "${args// /}" ] || continue
    json="$work/checks/$1-unnamed.json"
    echo "== sampler_check $2 $args ${CHECK_ARGS:-} ($(elapsed)s)"
    # shellcheck disable=SC2086
    timeout "${CHECK_TIMEOUT_S:-0}" python3 -m flowfill.sampler_check "$2" $args ${CHECK_ARGS:-} --json "$json" \
      || { echo "!! sampler_check failed or ran past CHECK_TIMEOUT_S (the slice goes on)"; continue; }
    name=$(python3 -c 'import json, sys; from flowfill.paired import check_name; print(check_name(json.load(open(sys.argv[1]))))' "$json")
    # Two sets identical in every named respect (the same check twice) keep both files.
    [ ! -e "$work/checks/$1-$name.json" ] || name="$name-$(date +%s%N)"
    mv "$json" "$work/checks/$1-$name.json"
    tar -C "$work" -cf "$OUT/checks.tar" checks
  done
}

work=$(mktemp -d "$tmp_root/flowfill-slice.XXXXXX")
trap 'rm -rf "$work"' EXIT
# A call's time limit stops the slice with SIGTERM, maybe after flowfill.run has written a finished state: the folder
# stays for --pack-kept (session 29 lost slice 48's state, its package already written, to this cleanup).
# The signal reaches the log's tee too: a write to it (bash's own "Terminated" notice) must not kill the slice by
# SIGPIPE before this trap runs, and the note goes to the stderr the slice started with.
trap '' PIPE
exec 3>&2
trap 'trap - EXIT; echo "!! stopped by a signal: $work is kept (bash model/gpu-slice.sh --pack-kept, with OUT set, packs a finished run)" >&3; exit 143' TERM INT HUP
exec > >(tee -a "$OUT/log.txt") 2>&1
elapsed() { echo $(( $(date +%s) - t0 )); }
if [ "$limit" = --check ]; then
  echo "== flowfill check call: $label on $checked, $(date -u +%FT%TZ)"
else
  echo "== flowfill gpu slice: limit ${limit}s, $(date -u +%FT%TZ)"
fi
python3 - <<'PY'
import sys, torch, onnx
try:
    import onnxruntime
    ort = onnxruntime.__version__
except ImportError:
    ort = "missing (parity checks are skipped)"
gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA"
print("python", sys.version.split()[0], "torch", torch.__version__, gpu, "onnx", onnx.__version__, "onnxruntime", ort)
PY
[ -f .cache/data/manifest.json ] || { echo "model/.cache/data is missing: build it with node model/data/build-dataset.mjs and carry it"; exit 2; }

if [ "$limit" = --check ]; then
  if ls "$checked"/resume.tar.part* >/dev/null 2>&1; then
    mkdir -p "$work/checked"
    cat "$checked"/resume.tar.part* | tar -x -C "$work/checked"
    checked=$work/checked
  fi
  [ -f "$checked/extras.json" ] || { echo "$checked holds no state (extras.json, or resume.tar.part*)"; exit 2; }
  run_checks "$label" "$checked" "$CHECKS"
  echo "== checks done in $(elapsed)s"
  exit 0
fi

resume_args=()
if ls .cache/resume/resume.tar.part* >/dev/null 2>&1; then
  mkdir -p "$work/resume-in"
  cat .cache/resume/resume.tar.part* | tar -x -C "$work/resume-in"
  resume_args=(--resume-in "$work/resume-in")
  if [ "${TEACHER_FROM_STATE:-0}" = 1 ]; then
    echo "== TEACHER_FROM_STATE=1: $(bash "$root/model/install-package.sh" --teacher-from-dir "$work/resume-in")"
  fi
  echo "== resuming from $(ls .cache/resume/resume.tar.part* | wc -l) part(s): $(cat "$work/resume-in/extras.json" | python3 -c 'import json,sys; e=json.load(sys.stdin); print("dit_steps", e.get("dit_steps"), "dit_seconds", round(e.get("dit_seconds", 0)))')"
else
  echo "== no carried state: first slice"
fi

if [ ${#resume_args[@]} -eq 0 ] && [ "${SKIP_CHECKS:-0}" != 1 ]; then
  echo "== pytest ($(elapsed)s)"
  timeout 180 python3 -m pytest -q tests || echo "!! pytest failed (continuing: the smoke run decides)"
  echo "== smoke run of every stage ($(elapsed)s)"
  timeout 150 python3 -m flowfill.run --data .cache/data --smoke --resume-out "$work/smoke" --eval-out "$work/smoke-eval" \
    ${V1_FOR_SMOKE:+--v1 .cache/v1/v1-fp16.npz}
  echo "== smoke passed ($(elapsed)s)"
fi

[ "${CUDA_GRAPHS:-}" = auto ] && STEP_BENCH=${STEP_BENCH:-"--variants 5x16 --cuda-graphs --steps 10"}
if [ -n "${STEP_BENCH:-}" ]; then
  echo "== step bench: python3 -m flowfill.step_bench ${STEP_BENCH} ($(elapsed)s)"
  # shellcheck disable=SC2086
  timeout 240 python3 -m flowfill.step_bench ${STEP_BENCH} | tee "$work/step-bench.txt" || echo "!! step bench failed (continuing with the slice)"
fi
if [ "${CUDA_GRAPHS:-}" = auto ]; then
  verdict=$(grep "^cuda-graphs verdict" "$work/step-bench.txt" 2>/dev/null || echo "no verdict from the bench")
  case "$verdict" in
    "cuda-graphs verdict: use "*) RUN_ARGS="${RUN_ARGS:-} --cuda-graphs"; echo "== CUDA_GRAPHS=auto: training with --cuda-graphs ($verdict)" ;;
    *) echo "== CUDA_GRAPHS=auto: training eagerly ($verdict)" ;;
  esac
fi

if [ -n "${CHECK_CARRIED:-}" ]; then
  [ ${#resume_args[@]} -gt 0 ] || { echo "CHECK_CARRIED: no state was carried"; exit 2; }
  run_checks carried "$work/resume-in" "$CHECK_CARRIED"
fi

v1_args=()
[ -f .cache/v1/v1-fp16.npz ] && v1_args=(--v1 .cache/v1/v1-fp16.npz)
pack_reserve=30
[ -z "${CHECK_NEW:-}" ] || pack_reserve=$(( pack_reserve + ${CHECK_RESERVE_S:-60} ))
left=$(( limit - $(elapsed) - pack_reserve ))
echo "== training slice: ${left}s ($(elapsed)s elapsed)"
# More than one GPU: the DiT trains data-parallel (flowfill/distributed.py), one process a GPU; the
# classifier trains beside the VAE. NVLink multicast stays off (it can take a shared host's GPUs down).
gpus=${GPUS:-$(python3 -c 'import torch; print(torch.cuda.device_count())')}
launcher=(python3 -m flowfill.run)
if [ "$gpus" -gt 1 ]; then
  export NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
  launcher=(python3 -m torch.distributed.run --standalone --nproc_per_node "$gpus" -m flowfill.run)
fi
echo "== ${gpus} GPU process(es)"
"${launcher[@]}" --data .cache/data "${resume_args[@]}" --resume-out "$work/resume-out" --eval-out "$work/eval" \
  --time-limit-s "$left" --dit-total-s "${DIT_TOTAL_S:-1100}" --vae-s "${VAE_S:-170}" --clf-s "${CLF_S:-60}" \
  --reserve-s "${RESERVE_S:-150}" --eval "${EVAL:-full}" "${v1_args[@]}" ${RUN_ARGS:-}

echo "== packing ($(elapsed)s)"
pack "$work"
if [ "${KEEP_STATE:-0}" = 1 ]; then
  rm -rf .cache/resume
  mkdir -p .cache/resume
  split_state "$work" .cache/resume
  echo "== KEEP_STATE=1: model/.cache/resume holds the new state for a next call on this machine"
fi
[ -z "${CHECK_NEW:-}" ] || run_checks new "$work/resume-out" "$CHECK_NEW"
echo "== slice done in $(elapsed)s"
