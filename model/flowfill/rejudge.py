"""A new judge for a state, and the state measured again by it.

The evaluation's judge (flowfill.classifier) is kept in the state so every slice is scored alike; when
the judge itself is the weak part (session 23: the 128² judge read 19 of 74 real glossy renders of
v1_emoji as flat, so no model could reach the style target by it), this trains its successor and
measures, by that successor: its ceiling on real renders (flowfill.judge_ceiling) beside the old
judge's, the state's held-out sets at the state's own sampler (as run.py's full evaluation scores
them, without the sampler search), and v1 again. It writes the state's classifier.npz and extras.json
with the new judge (the old one's accuracy, v1's numbers by it and the recipe kept in judge_changes):
`--adopt` gives that judge to a state (this one or another with the same judge, such as a distilled
state's teacher line), so later slices are scored by it. GPU, ~8 min at 300 s of judge training:

  cd model && python3 -m flowfill.rejudge <state> --out <dir> [--seconds 300] [--style-weight 1.0] \\
      [--from-scratch] [--v1 .cache/v1/v1-fp16.npz] [--train-subjects core] [--device cuda]
  cd model && python3 -m flowfill.rejudge <that dir> --v1-only --v1 .cache/v1/v1-fp16.npz   # v1 by it, later
  cd model && python3 -m flowfill.rejudge <state> --adopt <that dir>     # CPU, seconds

(--v1-only measures v1 by the judge of a folder that holds only classifier.npz and extras.json, and
records it there as v1_eval: a 16-block state, the dataset and v1's weights together pass what one GPU
call carries, so v1 can be measured in a call of its own.)

Needs .cache/data (node model/data/build-dataset.mjs).
"""
import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from . import resume
from .classifier import STYLE_WEIGHT, train_classifier
from .data import FlowfillData
from .evaluate import held_out_sets, seen_prompts
from .judge_ceiling import judges_real_renders
from .run import TRAIN_SUBJECTS, evaluate_v1, retire_judge, train_subject_ids


def adopt(state_dir, rejudged_dir) -> dict:
    """Gives state_dir the judge flowfill.rejudge trained (in rejudged_dir): its classifier.npz, accuracy and v1's
    numbers by it; the state's own judge goes to judge_changes as rejudge retired it there. Refused when the
    state's judge is not the one that was retired (the change would record another judge's numbers)."""
    state_dir, rejudged_dir = Path(state_dir), Path(rejudged_dir)
    new = json.loads((rejudged_dir / resume.EXTRAS).read_text())
    change = new["judge_changes"][-1]
    extras = json.loads((state_dir / resume.EXTRAS).read_text())
    if extras.get("classifier_info") != change["old_classifier_info"]:
        raise ValueError(f"{state_dir}'s judge is not the one {rejudged_dir} replaced: its classifier_info differs")
    state = dict(extras, classifier=resume.load_classifier(state_dir, "cpu"))
    retire_judge(state, change["to_input"], reason=change["reason"])
    state.update(classifier_info=new["classifier_info"], **({"v1_eval": new["v1_eval"]} if "v1_eval" in new else {}))
    (state_dir / resume.EXTRAS).write_text(json.dumps(state, indent=1, default=float))
    shutil.copyfile(rejudged_dir / resume.CLASSIFIER, state_dir / resume.CLASSIFIER)
    return state


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", help="a resume folder (package/ + extras.json + classifier.npz)")
    ap.add_argument("--out", help="writes report.json, classifier.npz and extras.json here")
    ap.add_argument("--adopt", metavar="DIR", help="no training: give the state the judge a rejudge run wrote into DIR")
    ap.add_argument("--v1-only", action="store_true", help="no training: measure --v1 by the folder's judge, recorded as its v1_eval")
    ap.add_argument("--seconds", type=float, default=300, help="the new judge's training time")
    ap.add_argument("--style-weight", type=float, default=STYLE_WEIGHT, help="the style loss's weight beside the subject's (0.3 until session 24)")
    ap.add_argument("--from-scratch", action="store_true", help="train the new judge from random weights, not on from the state's")
    ap.add_argument("--v1", help="v1's weights (python3 -m flowfill.v1 pack): measured again by the new judge")
    ap.add_argument("--train-subjects", choices=tuple(TRAIN_SUBJECTS), default="core",
                    help="whose subjects the _vocab measures choose among (default core, the candidate's)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--fd-seeds", type=int, default=5, help="v1_emoji images a prompt at 256² (5: the evaluation's n = 1000)")
    ap.add_argument("--limit", type=int, help="only each set's first N prompts: a rehearsal on a CPU, not a measurement")
    ap.add_argument("--data", default=".cache/data")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    if a.adopt:
        state = adopt(a.state, a.adopt)
        print(f"{a.state}: judged by {a.adopt}'s classifier ({state['classifier_info']}); the old one is in judge_changes")
        return
    if a.v1_only and not a.v1:
        ap.error("--v1-only needs --v1")
    if not (a.v1_only or a.out):
        ap.error("--out (or --adopt, --v1-only)")
    data = FlowfillData(a.data, a.device)
    sets = {k: v[: a.limit] for k, v in data.eval_sets.items()}
    if a.v1_only:
        extras_path = Path(a.state) / resume.EXTRAS
        extras = json.loads(extras_path.read_text())
        extras["v1_eval"] = evaluate_v1(a.v1, data, resume.load_classifier(a.state, a.device), sets["v1_emoji"], a.steps, print,
                                        fd_seeds=a.fd_seeds)
        extras_path.write_text(json.dumps(extras, indent=1, default=float))
        return
    t0 = time.time()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    def log(msg):
        print(f"[{time.time() - t0:6.1f}s] {msg}", flush=True)

    state = resume.load(a.state, data, a.device, log=log)
    old = state["classifier"]
    vocabulary = train_subject_ids(data, a.train_subjects)
    clf, info = train_classifier(data, a.seconds, log, width=old.config["width"], input_size=old.input_size, style_weight=a.style_weight,
                                 init=None if a.from_scratch else old)
    clf.requires_grad_(False)
    ceiling = judges_real_renders(data, {"old": old, "new": clf}, sets, (256, 512), vocabulary=vocabulary)
    log("judge ceiling on real renders, old → new: " + ", ".join(
        f"{k} style {ceiling['old'][k]['style']:.3f} → {ceiling['new'][k]['style']:.3f}" for k in ceiling["new"]))

    sampler = state["scheduler"]
    seen = seen_prompts(data, 200, subjects=vocabulary)[: a.limit]
    results, _ = held_out_sets(resume.pipeline(state, data), data, clf, sets, seen, log=log, vocabulary=vocabulary, steps=a.steps,
                               shift=sampler["shift"], guidance=sampler["guidance"], fd_seeds=a.fd_seeds)
    v1_eval = evaluate_v1(a.v1, data, clf, sets["v1_emoji"], a.steps, log, fd_seeds=a.fd_seeds) if a.v1 else None
    recipe = {"seconds": a.seconds, "style_weight": a.style_weight, "from_scratch": a.from_scratch, "limit": a.limit}
    retire_judge(state, clf.input_size, reason=f"flowfill.rejudge {json.dumps(recipe)}")
    state.update(classifier=clf, classifier_info=info, **({"v1_eval": v1_eval} if v1_eval else {}))
    resume.save(out, state, data)
    report = {"state": a.state, "dit_steps": state.get("dit_steps"), "judge_recipe": recipe, "classifier_info": info,
              "old_classifier_info": state["judge_changes"][-1]["old_classifier_info"], "judge_ceiling": ceiling, "sampler": sampler,
              "results": results, "v1_eval": v1_eval, "seconds": round(time.time() - t0, 1)}
    (out / "report.json").write_text(json.dumps(report, indent=1, default=float))
    log(f"done: {out}/report.json, classifier.npz and extras.json (rejudge {a.state} --adopt {out} gives the state this judge)")


if __name__ == "__main__":
    main()
