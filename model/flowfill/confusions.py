"""Where a held-out set fails, image by image: the candidate's images of one evaluation set made
exactly as the evaluation makes them (its chosen sampler, seed 101, 256²), and real renders of the
same prompts, both scored by the state's judge. Prints top-1 among the trained subjects by style,
how many misses the judge also makes on the real render (its fault) and how many it reads right there
(the model's), and the commonest confusions, asked → drawn; then the same split for the style itself
(CPU, 10–18 min for 200 prompts on 2 cores; icons take longest):

  cd model && python3 -m flowfill.confusions [model state folder] [--set v1_emoji] [--json out.json] [--device cpu]

Needs .cache/data (node model/data/build-dataset.mjs).
"""
import argparse
import json
from collections import Counter

import torch

from . import resume
from .data import FlowfillData
from .evaluate import REAL_RENDER_SEED, among, real_renders, run_generation
from .run import TRAIN_SUBJECTS, train_subject_ids


@torch.no_grad()
def drawn_subjects(clf, images: torch.Tensor, vocabulary: list[int] | None) -> list[int]:
    """The judge's top-1 among `vocabulary` (None: every subject), per image (what evaluate.score's subject_top1_vocab checks)."""
    logits, _ = clf(clf.crop(images))
    return among(logits, vocabulary).argmax(1).tolist()


@torch.no_grad()
def drawn_styles(clf, images: torch.Tensor) -> list[int]:
    """The judge's style, per image (what evaluate.score's style checks)."""
    _, logits = clf(clf.crop(images))
    return logits.argmax(1).tolist()


def split_misses(data: FlowfillData, prompts: list[dict], key: str, generated: list[int], real: list[int]) -> tuple[dict, Counter]:
    """Each prompt's `key` ("subject" or "style") as drawn, counted by the prompt's style: a hit, a miss the
    judge also makes on the real render (its fault), or the model's own miss; the last also as (asked, drawn)."""
    by_style: dict[str, Counter] = {}
    pairs: Counter = Counter()
    for p, g, r in zip(prompts, generated, real):
        c = by_style.setdefault(data.styles[p["style"]], Counter())
        c["n"] += 1
        if g == p[key]:
            c["hit"] += 1
        elif r == p[key]:
            c["model_miss"] += 1
            pairs[(p[key], g)] += 1
        else:
            c["judge_miss"] += 1
    return {s: dict(c) for s, c in sorted(by_style.items())}, pairs


def confusion_report(data: FlowfillData, prompts: list[dict], generated: list[int], real: list[int], top: int = 15) -> dict:
    """The subject by style: prompts, hits, and misses split by whether the judge reads the real render right."""
    by_style, pairs = split_misses(data, prompts, "subject", generated, real)
    label = lambda i: data.subjects[i]["label"]  # noqa: E731
    return {"by_style": by_style, "confusions": [{"asked": label(a), "drawn": label(d), "n": n} for (a, d), n in pairs.most_common(top)]}


def style_report(data: FlowfillData, prompts: list[dict], generated: list[int], real: list[int]) -> dict:
    """The style itself, split the same way (the judge's misses are a ceiling no model passes by this judge)."""
    by_style, pairs = split_misses(data, prompts, "style", generated, real)
    return {"style_by_style": by_style,
            "style_confusions": [{"asked": data.styles[a], "drawn": data.styles[d], "n": n} for (a, d), n in pairs.most_common()]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", nargs="?", default="eval/v2-candidate", help="a resume folder (package/ + extras.json + classifier.npz)")
    ap.add_argument("--data", default=".cache/data")
    ap.add_argument("--set", default="v1_emoji", help="an evaluation set of the data (default v1_emoji)")
    ap.add_argument("--train-subjects", choices=tuple(TRAIN_SUBJECTS), default="core",
                    help="whose subjects top-1 chooses among (default core, the candidate's)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    data = FlowfillData(a.data, a.device)
    state = resume.load(a.state, data, a.device)
    chosen = state["scheduler"]
    pipe = resume.pipeline(state, data)
    prompts = data.eval_sets[a.set]
    vocabulary = train_subject_ids(data, a.train_subjects)
    clf = state["classifier"]
    images = run_generation(pipe, prompts, 256, 256, steps=a.steps, guidance=chosen["guidance"], shift=chosen["shift"], seed=101)
    renders = real_renders(data, prompts, 256, 256, seed=REAL_RENDER_SEED)
    generated, real = drawn_subjects(clf, images, vocabulary), drawn_subjects(clf, renders, vocabulary)
    generated_styles, real_styles = drawn_styles(clf, images), drawn_styles(clf, renders)
    report = {"state": a.state, "set": a.set, "sampler": chosen,
              "top1_vocab": sum(g == p["subject"] for g, p in zip(generated, prompts)) / len(prompts),
              "style": sum(g == p["style"] for g, p in zip(generated_styles, prompts)) / len(prompts),
              **confusion_report(data, prompts, generated, real),
              **style_report(data, prompts, generated_styles, real_styles)}
    print(json.dumps(report, indent=1))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
