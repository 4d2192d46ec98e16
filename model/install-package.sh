#!/usr/bin/env bash
# Installs what a GPU slice returned (model/gpu-slice.sh) into the repository, and prepares the next slice.
#
#   bash model/install-package.sh [--candidate] <folder with resume.tar.part* and eval.tar>   # also: npm run model:install -- …
#   bash model/install-package.sh [--candidate] --carry-from-repo                            # rebuild the carried state from the repo
#   bash model/install-package.sh --teacher-from-git <rev> [state]  # model/.cache/teacher: a guidance-distilled state's
#                                                              # teacher (state's transformer at <rev>, by default the
#                                                              # candidate's; flowfill/distill.py checks the hash)
#   bash model/install-package.sh --teacher-from-dir <state>  # the same from a state folder in the work tree, e.g.
#                                                              # model/eval/v2-deep16 (a line trained beside the candidate)
#   bash model/install-package.sh --into <state> <folder> | --carry-from-repo
#                                                              # as --candidate, for another line's state folder
#   bash model/install-package.sh --ship-candidate <version> [state]  # models/default <- the candidate (or another
#                                                              # state folder's package, e.g. model/eval/v2-deep16),
#                                                              # transformer rebuilt, named and versioned <version>
#                                                              # (e.g. 2.1.0 -> "… v2.1"); the model it replaces to
#                                                              # models/v<its major.minor>, listed in RETIRED_BUILT_IN_MODELS
#   bash model/install-package.sh --ship-sampler <version> <state>  # the same weights at a new guidance or step count
#                                                              # (flowfill.set_sampler on <state>): only
#                                                              # models/default/flowfill.json changes (flowfill.ship_sampler)
#
# Installing a model that ships:
#   models/default/           <- the slice's package, its transformer rebuilt by npm run rebuild-transformer
#                                (the shipped model; it is also the checkpoint)
#   model/eval/resume/        <- extras.json + classifier.npz (with models/default/, all a new slice needs)
#   model/eval/               <- report.json, held-out-256.png, aspect-samples.png, grid-512-*.png, train-log.txt
# --candidate (a model still in training, not shipped; models/default/ stays as it is):
#   model/eval/v2-candidate/  <- package/, extras.json, classifier.npz, and the evaluation files
# --ship-candidate: models/default/ <- model/eval/v2-candidate/package/, its transformer rebuilt (v2 ships so since
#   2026-12-03; the plain form above is v1's layout and would overwrite v1's evaluation in model/eval/)
# Both:
#   model/.cache/resume/      <- the returned resume.tar.part* themselves, ready to carry to the next slice
# Then check it: node --experimental-vm-modules node_modules/jest/bin/jest.js test/model, and
# npm run sample-grid (the engine's grid for the README).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
package_dir=models/default extras_dir=model/eval/resume eval_dir=model/eval
# model/.cache/teacher from <reader> (a function printing one file of a transformer folder, given its name). The
# distilling run checks the teacher's hash against the one its state recorded (guidance_distilled_from).
write_teacher() {  # <label> <reader>
  mkdir -p model/.cache/teacher
  for f in config.json model.onnx; do "$2" "$f" > "model/.cache/teacher/$f"; done
  echo "model/.cache/teacher: transformer of $1, sha256 $(sha256sum model/.cache/teacher/model.onnx | cut -c1-12)…"
}
# models/default <- <package>, its transformer the engine's own graph of the exported weights (a quarter of the
# nodes: faster sessions and GPU steps; scripts/gpu/README.md; flowfill.json then names <package> under supersedes).
# The training reads it back as well as the export (model/tests/test_onnx_weights.py).
ship_package() {  # <package>
  local tmp
  tmp=$(mktemp -d)
  npx tsx worker/cli/rebuild-transformer.ts "$1" -o "$tmp/rebuilt"
  rm -rf models/default
  cp -r "$tmp/rebuilt" models/default
  rm -rf "$tmp"
}
if [ "${1:-}" = "--teacher-from-git" ]; then
  rev=${2:?usage: bash model/install-package.sh --teacher-from-git <rev> [state folder]}
  # Slice 34's teacher was the candidate folder's transformer at 6e49f7f; slice 36's is model/eval/v2-deep16's.
  from=${3:-model/eval/v2-candidate}
  from_git() { git show "$rev:$from/package/transformer/$1"; }
  write_teacher "$rev:$from" from_git
  exit 0
fi
if [ "${1:-}" = "--teacher-from-dir" ]; then
  state=${2:?usage: bash model/install-package.sh --teacher-from-dir <state folder>}
  [ -f "$state/package/transformer/model.onnx" ] || { echo "$state/package/transformer/model.onnx is missing"; exit 2; }
  from_dir() { cat "$state/package/transformer/$1"; }
  write_teacher "$state" from_dir
  exit 0
fi
if [ "${1:-}" = "--ship-sampler" ]; then
  # The package hash stays (guidance and steps live outside it), so there is nothing to retire: layers made at the old
  # sampler regenerate from the same package at the sampler their provenance records.
  version=${2:?usage: bash model/install-package.sh --ship-sampler <version, e.g. 2.10.0> <state folder>}
  from=$(cd "${3:?usage: bash model/install-package.sh --ship-sampler <version> <state folder>}" && pwd)
  (cd model && python3 -m flowfill.ship_sampler "$from" ../models/default --version "$version")
  exit 0
fi
if [ "${1:-}" = "--ship-candidate" ]; then
  # The state stays the candidate's; only its package becomes the built-in model. Each shipped model gets its own
  # version and display name (flowfill.json, outside the package hash), so a layer's "Made with …" names it apart
  # from the built-in model it replaces (ui/jobs/skip-reasons.ts RETIRED_BUILT_IN_MODELS).
  version=${2:?usage: bash model/install-package.sh --ship-candidate <version, e.g. 2.1.0> [state folder]}
  # Usually the distilled candidate; since session 39 a teacher state can ship too (sampled at fewer steps with
  # guidance, flowfill.set_sampler --steps), so the state is an argument.
  from=${3:-model/eval/v2-candidate}
  [ -f "$from/package/flowfill.json" ] || { echo "$from/package/flowfill.json is missing: not a state folder"; exit 2; }
  [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "version $version is not major.minor.patch"; exit 2; }
  # The built-in model it replaces keeps its bytes in models/v<major.minor> (layers made with it regenerate from
  # there) and gets its RETIRED_BUILT_IN_MODELS entry, as the engine reads that folder.
  old_version=$(python3 -c 'import json; print(json.load(open("models/default/flowfill.json"))["version"])')
  retired="models/v$(echo "$old_version" | cut -d. -f1-2)"
  [ "$old_version" != "$version" ] || { echo "models/default is $version already"; exit 2; }
  [ ! -e "$retired" ] || { echo "$retired exists: the built-in model $old_version has been retired there already"; exit 2; }
  cp -r models/default "$retired"
  ship_package "$from/package"
  PYTHONPATH=model python3 -m flowfill.release_version models/default/flowfill.json "$version"
  npx tsx scripts/retire-built-in-model.ts "$retired"
  npx prettier --check --log-level warn ui/jobs/skip-reasons.ts
  du -sh models/default "$retired"
  echo "shipped: models/default is $from/package with its transformer rebuilt; $old_version is in $retired"
  exit 0
fi
state=
if [ "${1:-}" = "--candidate" ]; then
  state=model/eval/v2-candidate
  shift
elif [ "${1:-}" = "--into" ]; then
  state=${2:?usage: bash model/install-package.sh --into <state folder> <returned folder> | --carry-from-repo}
  shift 2
fi
[ -z "$state" ] || { package_dir="$state/package" extras_dir="$state" eval_dir="$state"; }
if [ "${1:-}" = "--carry-from-repo" ]; then
  [ -f "$extras_dir/extras.json" ] || { echo "$extras_dir/extras.json is missing: nothing to resume from"; exit 2; }
  work=$(mktemp -d)
  mkdir -p "$work/state" model/.cache/resume
  cp -r "$package_dir" "$work/state/package"
  cp "$extras_dir/extras.json" "$extras_dir/classifier.npz" "$work/state/"
  rm -f model/.cache/resume/resume.tar.part*
  tar -C "$work/state" -cf - . | split -b 15M -d - model/.cache/resume/resume.tar.part
  rm -rf "$work"
  ls -la model/.cache/resume
  exit 0
fi
src=${1:?usage: bash model/install-package.sh [--candidate] <returned folder> | --carry-from-repo}
ls "$src"/resume.tar.part* >/dev/null 2>&1 || { echo "$src has no resume.tar.part*: was the slice's output fetched completely?"; exit 2; }
work=$(mktemp -d)
cat "$src"/resume.tar.part* | tar -x -C "$work"
[ -f "$work/package/model_index.json" ] || { echo "the resume archive holds no package/model_index.json"; exit 2; }
mkdir -p "$(dirname "$package_dir")" "$extras_dir" model/.cache/resume
if [ "$package_dir" = models/default ]; then
  ship_package "$work/package"
else
  rm -rf "$package_dir"
  cp -r "$work/package" "$package_dir"
fi
cp "$work/extras.json" "$work/classifier.npz" "$extras_dir/"
rm -f model/.cache/resume/resume.tar.part*
cp "$src"/resume.tar.part* model/.cache/resume/
if [ -f "$src/eval.tar" ]; then
  tar -x -C "$eval_dir" -f "$src/eval.tar" --exclude training-composites
fi
rm -rf "$work"
du -sh "$package_dir"
echo "installed: $package_dir ($(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['training'].get('dit_steps'))" "$package_dir/flowfill.json") DiT steps), $extras_dir, $eval_dir; next slice carries model/.cache/resume"
