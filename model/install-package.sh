#!/usr/bin/env bash
# Installs what a GPU slice returned (model/gpu-slice.sh) into the repository, and prepares the next slice.
#
#   bash model/install-package.sh <folder with resume.tar.part* and eval.tar>   # also: npm run model:install -- <folder>
#   bash model/install-package.sh --carry-from-repo                            # rebuild the carried state from the repo
#
# Installing:
#   models/default/           <- the slice's package (the shipped model; it is also the checkpoint)
#   model/eval/resume/        <- extras.json + classifier.npz (with models/default/, all a new slice needs)
#   model/eval/               <- report.json, held-out-256.png, aspect-samples.png, grid-512-*.png, train-log.txt
#   model/.cache/resume/      <- the returned resume.tar.part* themselves, ready to carry to the next slice
# Then check it: node --experimental-vm-modules node_modules/jest/bin/jest.js test/model, and
# npm run sample-grid (the engine's grid for the README).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if [ "${1:-}" = "--carry-from-repo" ]; then
  [ -f model/eval/resume/extras.json ] || { echo "model/eval/resume/extras.json is missing: nothing to resume from"; exit 2; }
  work=$(mktemp -d)
  mkdir -p "$work/state" model/.cache/resume
  cp -r models/default "$work/state/package"
  cp model/eval/resume/extras.json model/eval/resume/classifier.npz "$work/state/"
  rm -f model/.cache/resume/resume.tar.part*
  tar -C "$work/state" -cf - . | split -b 15M -d - model/.cache/resume/resume.tar.part
  rm -rf "$work"
  ls -la model/.cache/resume
  exit 0
fi
src=${1:?usage: bash model/install-package.sh <returned folder> | --carry-from-repo}
ls "$src"/resume.tar.part* >/dev/null 2>&1 || { echo "$src has no resume.tar.part*: was the slice's output fetched completely?"; exit 2; }
work=$(mktemp -d)
cat "$src"/resume.tar.part* | tar -x -C "$work"
[ -f "$work/package/model_index.json" ] || { echo "the resume archive holds no package/model_index.json"; exit 2; }
rm -rf models/default
cp -r "$work/package" models/default
mkdir -p model/eval/resume model/.cache/resume
cp "$work/extras.json" "$work/classifier.npz" model/eval/resume/
rm -f model/.cache/resume/resume.tar.part*
cp "$src"/resume.tar.part* model/.cache/resume/
if [ -f "$src/eval.tar" ]; then
  tar -x -C model/eval -f "$src/eval.tar" --exclude training-composites
fi
rm -rf "$work"
du -sh models/default
echo "installed: models/default ($(python3 -c "import json; print(json.load(open('models/default/flowfill.json'))['training'].get('dit_steps'))") DiT steps), model/eval/resume, model/eval; next slice carries model/.cache/resume"
