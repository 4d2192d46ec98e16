"""What the evaluation's judge gives the real thing: real renders of every held-out set (the data
recipe, random placement: the FD's real side) scored exactly as generated images are. A model is
asked to draw what these renders show, so their scores are the ceiling of each measure in
model/README.md's tables — where the ceiling sits below a target, the classifier, not the model, is
what stops the target (CPU, ~1 min a size on 2 cores):

  cd model && python3 -m flowfill.judge_ceiling <resume state folder> [--sizes 256,512] [--seeds 1] \
      [--train-subjects core] [--device cpu]

Needs .cache/data (node model/data/build-dataset.mjs).
"""
import argparse
import json

import torch

from . import resume
from .data import FlowfillData
from .evaluate import REAL_RENDER_SEED, mean_scores, real_renders, score
from .run import TRAIN_SUBJECTS, train_subject_ids


@torch.no_grad()
def judge_real_renders(data: FlowfillData, clf, sets: dict, sizes=(256,), seeds: int = 1,
                       vocabulary: list[int] | None = None) -> dict:
    """Mean scores of real renders per set and size: the FD's real renders, seed for seed."""
    return judges_real_renders(data, {"": clf}, sets, sizes, seeds, vocabulary)[""]


@torch.no_grad()
def judges_real_renders(data: FlowfillData, judges: dict, sets: dict, sizes=(256,), seeds: int = 1,
                        vocabulary: list[int] | None = None) -> dict:
    """judge_real_renders for several judges ({name: classifier}) over one rendering of the renders."""
    out = {name: {} for name in judges}
    for size in sizes:
        for set_name, prompts in sets.items():
            renders = [real_renders(data, prompts, size, size, seed=REAL_RENDER_SEED + j) for j in range(seeds)]
            for name, clf in judges.items():
                runs = [score(data, clf, x, prompts, vocabulary) for x in renders]
                pooled = {k: [v for run in runs for v in run[k]] for k in runs[0] if k != "border"}
                out[name][f"{set_name}@{size}"] = {**mean_scores(pooled), "n": len(prompts) * seeds}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", help="a v2 resume state folder (its classifier.npz judges)")
    ap.add_argument("--sizes", default="256,512", help="square sizes, comma-separated (default 256,512)")
    ap.add_argument("--seeds", type=int, default=1, help="renders per prompt (default 1)")
    ap.add_argument("--train-subjects", choices=tuple(TRAIN_SUBJECTS), default="core",
                    help="whose subjects the _vocab measures choose among (default core, the candidate's)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    data = FlowfillData(".cache/data", a.device)
    clf = resume.load_classifier(a.state, a.device)
    sizes = tuple(int(s) for s in a.sizes.split(","))
    result = judge_real_renders(data, clf, data.eval_sets, sizes, a.seeds, train_subject_ids(data, a.train_subjects))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
