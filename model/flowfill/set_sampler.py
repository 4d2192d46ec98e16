"""A state's sampler choice changed after its evaluation, with the reason kept beside it:

  python3 -m flowfill.set_sampler <state folder> [--shift 6] [--guidance 1] [--steps 10] --why "<the checks that chose it>"

A state's sampler (its scheduler's shift and the guidance it recommends) is chosen by the full evaluation's
search on 200 seen prompts (run.py, choose_scheduler): the lowest FD among the points within one standard error of
the best score. A later check on more images can find a gain that search could not see: session 38 found v2.4
drawing icons 4.9 ± 1.3 points more often at shift 6 than at its chosen shift 1 (n = 1,000, paired), with the emoji
level. This writes the new choice everywhere the old
one lives, so that the package, the engine and every later check agree:
  - package/scheduler/scheduler_config.json "shift" (what the engine samples with by default), and that file's
    sha256 and size in package/flowfill.json, whose "recommended" block names the new sampler too;
  - extras.json "scheduler" (what sampler_check and the next slice take as the state's own choice), with
    "sampler_changes" recording the old choice, the new one, the DiT step and why.
The steps live only in "recommended" (the panel's default; each layer records the steps it was made with). Session 39
found teacher call 17 drawing at 10 steps with guidance 2 what it draws at 20: guided, it runs the transformer twice
a step, so 10 steps cost a designer what a distilled model's 20 at guidance 1 cost.
A new shift changes the package hash with scheduler_config.json, as it should: the same weights sampled otherwise
make other images, so layers made with the old package must keep regenerating from it. Steps and guidance are in
flowfill.json, outside the hash: a layer's provenance names its own. A package's judged counts
(flowfill.vocabulary --checks) were drawn with the old sampler and are dropped here; count again with checks made
at the new one. No torch: the weights are not touched.
"""
import argparse
import hashlib
import json
from pathlib import Path

SCHEDULER_CONFIG = "scheduler/scheduler_config.json"


def without_judged_counts(vocabulary: dict) -> dict:
    out = {k: v for k, v in vocabulary.items() if k != "judged"}
    out["kinds"] = [{**{k: v for k, v in kind.items() if k not in ("judged_by_style", "subjects")},
                     "subjects": [{k: v for k, v in s.items() if k != "judged"} for s in kind["subjects"]]}
                    for kind in vocabulary.get("kinds", [])]
    return out


def set_sampler(state: Path, shift: float | None, guidance: float | None, why: str, steps: int | None = None) -> dict:
    """Writes the new sampler into `state` (package/ + extras.json); returns the change it recorded. None keeps a value."""
    if shift is not None and not shift > 0:
        raise ValueError(f"a shift must be above 0, got {shift}")
    if guidance is not None and not guidance >= 1:
        raise ValueError(f"guidance must be at least 1, got {guidance}")
    if steps is not None and not (isinstance(steps, int) and steps >= 1):
        raise ValueError(f"steps must be a whole number of at least 1, got {steps}")
    if not why.strip():
        raise ValueError("say why (--why): the checks that chose the new sampler")
    package, extras_path = state / "package", state / "extras.json"
    flowfill_path = package / "flowfill.json"
    extras, flowfill = json.loads(extras_path.read_text()), json.loads(flowfill_path.read_text())
    old = dict(extras["scheduler"])
    new = {"shift": float(old["shift"] if shift is None else shift), "guidance": float(old["guidance"] if guidance is None else guidance)}
    old_steps = flowfill.get("recommended", {}).get("steps")
    new_steps = old_steps if steps is None else steps
    if new == old and new_steps == old_steps:
        raise ValueError(f"{state} samples at {old}, {old_steps} steps already")

    if new["shift"] != old["shift"]:
        config_path = package / SCHEDULER_CONFIG
        config = json.loads(config_path.read_text())
        config["shift"] = new["shift"]
        blob = json.dumps(config, indent=2).encode()
        config_path.write_bytes(blob)
        flowfill["files"][SCHEDULER_CONFIG] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    flowfill["recommended"] = {**flowfill.get("recommended", {}), **new}
    if steps is not None:
        flowfill["recommended"]["steps"] = steps
    if "judged" in flowfill.get("vocabulary", {}):
        flowfill["vocabulary"] = without_judged_counts(flowfill["vocabulary"])
    flowfill_path.write_text(json.dumps(flowfill, indent=2))

    change = {"from": old, "to": new, "at_dit_step": extras.get("dit_steps"), "why": why.strip()}
    # The steps are recorded in the change only; extras' "scheduler" stays {shift, guidance}, as the training and the
    # checks read it.
    if steps is not None:
        change["from"], change["to"] = {**old, "steps": old_steps}, {**new, "steps": new_steps}
    extras["scheduler"] = new
    extras["sampler_changes"] = [*extras.get("sampler_changes", []), change]
    extras_path.write_text(json.dumps(extras, indent=1))
    return change


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", help="a state folder: package/ + extras.json (e.g. eval/v2-candidate)")
    ap.add_argument("--shift", type=float, help="default: the state's shift as it is")
    ap.add_argument("--guidance", type=float, help="default: the state's guidance as it is")
    ap.add_argument("--steps", type=int, help="the recommended steps (default: as they are)")
    ap.add_argument("--why", required=True, help="the checks that chose the new sampler (kept in extras.json)")
    a = ap.parse_args(argv)
    try:
        change = set_sampler(Path(a.state), a.shift, a.guidance, a.why, a.steps)
    except ValueError as e:
        ap.error(str(e))
    hash_changed = change["from"]["shift"] != change["to"]["shift"]
    print(f"{a.state}: sampler {change['from']} -> {change['to']}"
          + (" (package hash changed: scheduler_config.json)" if hash_changed else " (package hash unchanged: flowfill.json only)"))


if __name__ == "__main__":
    main()
