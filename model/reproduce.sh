#!/usr/bin/env bash
# One command for the whole model: data -> VAE -> evaluation classifier -> text encoder + MM-DiT
# -> evaluation -> export to model/runs/package/ (v1's recipe; v1 ships as models/v1/, v2 as models/default/,
# neither is overwritten). Resumable: with TIME_LIMIT_S set (e.g. 560 for a
# 10-minute GPU call) each run trains until the limit, saves model/runs/ckpt.part*, and the next
# run continues; the run that completes the DiT budget evaluates and exports.
#
#   model/reproduce.sh                  # everything, in one go (~40 min on one H100/H200)
#   TIME_LIMIT_S=560 model/reproduce.sh # one slice; repeat until model/eval/report.json is rewritten
#
# Needs Node 20 + the repo's npm deps for the data (skipped when model/.cache/data exists, e.g.
# carried to a GPU machine without Node) and Python with CUDA PyTorch, onnx, onnxruntime, scipy, pillow.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
[ -f model/.cache/data/manifest.json ] || node model/data/build-dataset.mjs
cd model
export PYTHONUNBUFFERED=1
python3 -m flowfill.run --data .cache/data --ckpt-in runs --ckpt-out runs --package runs/package --eval-out eval \
  --time-limit-s "${TIME_LIMIT_S:-100000}" --vae-s 150 --clf-s 40 --vae-decoder-finetune-s 90 --dit-total-s 1840 "$@"
