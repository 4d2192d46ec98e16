#!/usr/bin/env bash
# An A/B in one GPU call: arms trained side by side on the one GPU from the same carried state, for the same
# wall time, each through gpu-slice.sh, then scored by flowfill.ab_pick (model/README.md, "Session 17"):
#
#   OUT=/some/dir ARMS="control=;low=--low-noise-share 0.25" RUN_ARGS="<every arm's>" bash model/gpu-ab.sh <seconds>
#
# ARMS is NAME=extra arguments, separated by ';'. Every other variable (EVAL, RESERVE_S, DIT_TOTAL_S, ...) goes to
# every arm's gpu-slice.sh as it would to one. The training is launch-bound (one process leaves the GPU idle most
# of each step, "What capacity costs"), so arms side by side each get much of a lone run's steps; the log
# prints each arm's steps, which measures that.
# Each arm's state, evaluation and log stay on the device machine in /tmp/flowfill-ab/NAME until the next
# gpu-ab.sh call; $OUT gets the winner's resume.tar.partNN and eval.tar, arms.tar (every arm's report.json and
# log.txt under reports/NAME/), ab.json (scores and winner) and, under CHECK_NEW, each arm's checks as
# checks-NAME.tar (to pair with flowfill.paired), within what a call returns (8 files: with a 3-part state, two arms'
# checks fit). Every arm's checks run at once at the end: give them CHECK_RESERVE_S to match.
set -euo pipefail
limit=${1:?usage: OUT=dir ARMS="a=...;b=..." bash model/gpu-ab.sh <seconds>}
: "${OUT:?set OUT to the folder that comes back}"
: "${ARMS:?set ARMS to NAME=arguments pairs separated by ;}"
here="$(cd "$(dirname "$0")" && pwd)"
arms_dir=/tmp/flowfill-ab
rm -rf "$arms_dir"
mkdir -p "$arms_dir" "$OUT"
names=()
pids=()
IFS=';' read -ra specs <<< "$ARMS"
for spec in "${specs[@]}"; do
  name=${spec%%=*}
  extra=${spec#*=}
  [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || { echo "arm name '$name' must be letters, digits, - or _"; exit 2; }
  names+=("$name")
  # Each arm keeps a share of the cores, so the arms' CPU work does not fight over all of them.
  OMP_NUM_THREADS=$(( $(nproc) / ${#specs[@]} > 0 ? $(nproc) / ${#specs[@]} : 1 )) \
    OUT="$arms_dir/$name" RUN_ARGS="${RUN_ARGS:-} $extra" bash "$here/gpu-slice.sh" "$limit" > "$arms_dir/$name.out" 2>&1 &
  pids+=($!)
  echo "== arm $name: RUN_ARGS=${RUN_ARGS:-} $extra (pid $!)"
done
failed=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { echo "!! arm ${names[$i]} failed:"; tail -20 "$arms_dir/${names[$i]}.out"; failed=1; }
done
pick_args=()
kept=()
for name in "${names[@]}"; do
  grep -E "dit: steps|step phases|slice done" "$arms_dir/$name/log.txt" | sed "s/^/[$name] /" || true
  [ -f "$arms_dir/$name/log.txt" ] && kept+=("$name/log.txt")
  [ -f "$arms_dir/$name/report.json" ] && pick_args+=("$name=$arms_dir/$name/report.json") && kept+=("$name/report.json")
done
[ ${#pick_args[@]} -gt 0 ] || { echo "!! no arm finished"; exit 1; }
cd "$here"
python3 -m flowfill.ab_pick "${pick_args[@]}" --out "$OUT/ab.json" | tee "$arms_dir/ab.txt"
winner=$(tail -1 "$arms_dir/ab.txt")
tar -C "$arms_dir" --transform 's,^,reports/,' -cf "$OUT/arms.tar" "${kept[@]}"
cp "$arms_dir/$winner/eval.tar" "$OUT/"
for name in "${names[@]}"; do
  [ ! -f "$arms_dir/$name/checks.tar" ] || cp "$arms_dir/$name/checks.tar" "$OUT/checks-$name.tar"
done
# Under RETURN_STATE=0 gpu-slice.sh writes no state parts: only the evaluation comes back.
cp "$arms_dir/$winner"/resume.tar.part* "$OUT/" 2>/dev/null || echo "== no state returned (RETURN_STATE=0)"
echo "== winner $winner; $OUT:"
ls -la "$OUT"
exit $failed
