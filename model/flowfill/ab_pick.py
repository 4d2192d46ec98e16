"""Arms of an A/B trained side by side from one state (gpu-ab.sh): each arm's scores and the winner.

    python3 -m flowfill.ab_pick NAME=report.json [NAME=report.json ...] [--out ab.json]

An arm's score is `evaluate.selection_score` (subject top-1 among the trained vocabulary where the report has
it) averaged over the evaluation's held-out sets at 256². The winner is the best score; the choice is made on
the same prompts the arms report, so the winner's numbers lean optimistic by the spread between arms."""
import argparse
import json

from .evaluate import selection_score


def held_out_sets(report: dict) -> set[str]:
    """The report's held-out sets at 256² (`seen` holds training prompts, so it is not one)."""
    return {k for k, m in report["results"].items() if k.endswith("@256") and not k.startswith("seen@") and "subject_top1" in m}


def arm_scores(report: dict, sets: set[str]) -> dict[str, float]:
    """Each of `sets`' selection score, and their mean under "score"."""
    per_set = {}
    for key in sorted(sets):
        m = report["results"][key]
        per_set[key] = selection_score(m, "subject_top1_vocab" if "subject_top1_vocab" in m else "subject_top1")
    return {**per_set, "score": sum(per_set.values()) / len(per_set)}


def pick(reports: dict[str, dict]) -> tuple[str, dict[str, dict]]:
    """The winner among arms, scored on the held-out sets every arm's report has."""
    sets = set.intersection(*(held_out_sets(r) for r in reports.values()))
    if not sets:
        raise ValueError("the arms' reports share no held-out set at 256²")
    scores = {name: arm_scores(r, sets) for name, r in reports.items()}
    return max(scores, key=lambda n: scores[n]["score"]), scores


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("arms", nargs="+", help="NAME=path/to/report.json")
    ap.add_argument("--out", help="write the scores and the winner here (JSON)")
    a = ap.parse_args(argv)
    reports = {}
    for arm in a.arms:
        name, _, path = arm.partition("=")
        with open(path) as f:
            reports[name] = json.load(f)
    winner, scores = pick(reports)
    for name, s in scores.items():
        steps = reports[name].get("training", {}).get("dit_steps")
        cols = "  ".join(f"{k} {v:.4f}" for k, v in s.items())
        print(f"{name:>12}: {cols}  (dit_steps {steps}){'  <- winner' if name == winner else ''}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"winner": winner, "scores": scores}, f, indent=1)
    print(winner)


if __name__ == "__main__":
    main()
