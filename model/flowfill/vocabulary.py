"""The prompt vocabulary a package declares in flowfill.json ("vocabulary"): the subjects its transformer
was trained to draw, by kind, with the styles each one has, the named colours, and one caption template per
kind. The panel reads it to offer those subjects and styles, to word its style chips as the captions were
worded, and to say when a prompt names none of the subjects (the engine's tokenizer separately names the
words it does not know at all).

Only the data manifest and the training's subject choice go in, so this module needs no torch:

  python3 -m flowfill.vocabulary <package folder> [--data .cache/data] [--train-subjects core]
      [--checks check.json ...]

writes the block into an existing package's flowfill.json (outside the package hash: no graph changes).
export.py writes it into every package it makes. --checks adds, to each subject, how many of its
images the independent judge recognised in sampler_check runs of this very model (per-image results,
at its recommended sampler), and to each kind the same images counted by the style their prompts asked
for: a designer choosing among 400 subjects and their styles should know which it draws reliably and
which it seldom gets right.
"""
import argparse
import json
import re
from pathlib import Path

# --train-subjects: the evaluation sets whose subjects the DiT trains on (none named = every subject).
# core = v1's 200 emoji and the 200 icons all three icon sets draw: a vocabulary sized to what the
# model can hold (model/README.md, "Where the subjects stand, and the decision").
TRAIN_SUBJECTS = {"all": (), "v1": ("v1_emoji",), "core": ("v1_emoji", "icons")}


def subject_ids_of(manifest: dict, choice: str) -> list[int] | None:
    """The subject ids a --train-subjects choice trains on; None = every subject."""
    names = TRAIN_SUBJECTS[choice]
    return sorted({p["subject"] for name in names for p in manifest["eval_sets"][name]}) if names else None


def prompt_vocabulary(manifest: dict, subject_ids: list[int] | None,
                      judged: tuple[dict[int, list[int]], dict, dict[int, list[int]]] | None = None) -> dict:
    """flowfill.json's "vocabulary" for a transformer trained on `subject_ids` (None = all) of `manifest`;
    `judged` (from judged_counts) adds each subject's [recognised, images], each kind's by the style the images
    asked for, and how they were counted."""
    subjects = manifest["subjects"]
    chosen = subject_ids if subject_ids is not None else list(range(len(subjects)))
    counts, how, style_counts = judged if judged is not None else ({}, None, {})
    stray = sorted(set(counts) - set(chosen))
    if stray:
        raise ValueError(f"the checks drew subjects this vocabulary does not list: "
                         f"{', '.join(subjects[i]['names'][0] for i in stray[:5])}{' …' if len(stray) > 5 else ''} "
                         f"(a check of another set, or another --train-subjects)")
    style_names = [s["name"] for s in manifest["styles"]]
    kinds = []
    for kind in ("emoji", "icon"):
        mine = sorted((i for i in chosen if subjects[i]["kind"] == kind), key=lambda i: subjects[i]["names"][0])
        if not mine:
            continue
        styles = [k for k, s in enumerate(manifest["styles"]) if s["kind"] == kind]
        by_style = {style_names[k]: style_counts[k] for k in styles if k in style_counts}
        kinds.append({
            "kind": kind,
            # The first template is the plainest wording of a caption of this kind.
            "prompt": manifest["templates"][kind][0],
            "styles": [style_names[k] for k in styles],
            **({"judged_by_style": by_style} if by_style else {}),
            "subjects": [{"name": subjects[i]["names"][0],
                          **({"aliases": subjects[i]["names"][1:]} if len(subjects[i]["names"]) > 1 else {}),
                          "styles": [style_names[int(k)] for k in sorted(subjects[i]["sprites"], key=int)],
                          **({"judged": counts[i]} if i in counts else {})} for i in mine],
        })
    return {
        "about": "The subjects this model was trained to draw, each with the styles it was drawn in, and how its "
                 "training captions read. Backgrounds and icon colours are the named colours; a background may also "
                 "be '<colour> to <colour> gradient'. Other subjects' names are known words, drawn poorly.",
        "kinds": kinds,
        "colours": [c["name"] for c in manifest["colours"]],
        "other_subjects": len(subjects) - len(chosen),
        **({"judged": how} if how is not None else {}),
    }


def judged_counts(manifest: dict, flowfill: dict, checks: list[dict]) -> tuple[dict[int, list[int]], dict, dict[int, list[int]]]:
    """Per subject id: [images the judge recognised, images], summed over `checks` (sampler_check --json
    results with per-image scores); what was counted; and per style id, the same over the images whose prompt
    asked for that style (the weakest style shows: thin icons, model/README.md "Session 34"). Each check must be
    of this package's transformer (its DiT steps), at its recommended sampler and step count, over a whole set,
    at one shared size: counts of another model or sampler would describe other pictures."""
    steps = flowfill.get("training", {}).get("dit_steps")
    rec = flowfill.get("recommended", {})
    counts: dict[int, list[int]] = {}
    style_counts: dict[int, list[int]] = {}
    sizes, images, drawn = set(), 0, set()
    for check in checks:
        first_seed = check.get("seed_index") or 0
        name = f"the check of {check.get('set')} at {check.get('size')}² (seed index {first_seed})"
        # The same image counted twice would pass for two: each (set, seed) once.
        seeds = {(check.get("set"), j) for j in range(first_seed, first_seed + check.get("seeds", 0))}
        if seeds & drawn:
            raise ValueError(f"{name} draws seeds another check drew: {sorted(j for _, j in seeds & drawn)}")
        drawn |= seeds
        made_by = re.search(r"\((\d+) DiT steps\)", str(check.get("model", "")))
        if made_by is None or int(made_by.group(1)) != steps:
            raise ValueError(f"{name} is of {check.get('model')!r}, not of this package's transformer ({steps} DiT steps)")
        sampler = check.get("sampler", {})
        if (sampler.get("shift"), sampler.get("guidance"), check.get("steps")) != (rec.get("shift"), rec.get("guidance"), rec.get("steps")):
            raise ValueError(f"{name} drew at shift {sampler.get('shift')}, guidance {sampler.get('guidance')}, "
                             f"{check.get('steps')} steps; the package recommends {rec}")
        if check.get("limit") is not None:
            raise ValueError(f"{name} covers only its set's first {check['limit']} prompts")
        if check.get("style") is not None:
            raise ValueError(f"{name} covers only its set's {check['style']} prompts")
        if aspect_of(check) != SQUARE:
            raise ValueError(f"{name} drew its images at {check['aspect']}; the counts are of square images")
        hits = check.get("scores", {}).get("per_image", {}).get("subject_top1_vocab")
        if hits is None:
            raise ValueError(f"{name} has no per-image subject_top1_vocab (run sampler_check with --json and the "
                             f"model's --train-subjects)")
        prompts = image_prompts(manifest, check, len(hits))
        add_tallies(counts, [p["subject"] for p in prompts], hits)
        add_tallies(style_counts, [p["style"] for p in prompts], hits)
        sizes.add(check["size"])
        images += len(hits)
    if len(sizes) > 1:
        raise ValueError(f"the checks are at sizes {sorted(sizes)}; counts mix only checks of one size")
    size = sizes.pop() if sizes else None
    how = {"size": size, "images": images,
           "about": f"Images of held-out captions (style and colour combinations never trained) drawn by this model at "
                    f"{size}×{size} with its recommended sampler, and how many an independent classifier (trained on clean "
                    f"renders) named as the subject asked for, among the subjects listed here."}
    return counts, how, style_counts


def check_prompts(manifest: dict, set_name: str, style: str | None = None, limit: int | None = None) -> list[dict]:
    """The prompts a sampler_check scores: its set's, only those asking for `style` if one is named, the first
    `limit` of them if a limit is set. One rule for the check that draws them and the tools that read its JSON."""
    prompts = manifest["eval_sets"][set_name]
    if style is not None:
        names = [s["name"] for s in manifest["styles"]]
        if style not in names:
            raise ValueError(f"no style {style!r} (the data's styles: {', '.join(names)})")
        prompts = [p for p in prompts if names[p["style"]] == style]
        if not prompts:
            raise ValueError(f"no prompt of {set_name} asks for the {style} style")
    return prompts[:limit]


SQUARE = "1:1"


def aspect_of(check: dict) -> str:
    """A sampler_check's frame shape, "W:H"; checks written before session 41 drew square images and do not say so."""
    return check.get("aspect", SQUARE)


def image_prompts(manifest: dict, check: dict, images: int) -> list[dict]:
    """The prompt each of a sampler_check's `images` per-image results drew: it scores seed by seed over its
    prompts (evaluate.evaluate_sets)."""
    prompts = check_prompts(manifest, check["set"], check.get("style"), check.get("limit"))
    if images != len(prompts) * check["seeds"]:
        raise ValueError(f"the check of {check['set']} has {images} per-image results for {len(prompts)} prompts × "
                         f"{check['seeds']} seeds")
    return [prompts[k % len(prompts)] for k in range(images)]


def image_subjects(manifest: dict, check: dict, images: int) -> list[int]:
    """The subject id each of a sampler_check's `images` per-image results asked for."""
    return [p["subject"] for p in image_prompts(manifest, check, images)]


def add_tallies(counts: dict[int, list[int]], keys: list[int], hits: list) -> dict[int, list[int]]:
    """`counts` with each of `hits` added to its key's [hits, images]."""
    for key, hit in zip(keys, hits):
        tally = counts.setdefault(key, [0, 0])
        tally[0] += int(hit)
        tally[1] += 1
    return counts


def add_subject_tallies(counts: dict[int, list[int]], manifest: dict, check: dict, hits: list) -> dict[int, list[int]]:
    """`counts` with a check's per-image `hits` added to each subject's [hits, images]."""
    return add_tallies(counts, image_subjects(manifest, check, len(hits)), hits)


def subject_ids_by_name(manifest: dict) -> dict[tuple[str, str], int]:
    """Each subject's id by its kind and first name, as a package's vocabulary lists it."""
    return {(s["kind"], s["names"][0]): i for i, s in enumerate(manifest["subjects"])}


def weak_subject_ids(manifest: dict, flowfill: dict, below: float = 0.5) -> list[int]:
    """Ids in `manifest` of the subjects a package's judged counts (--checks) find recognised in fewer than
    `below` of their test images: the subjects the panel warns about, and run.py --weak-share trains more."""
    vocabulary = flowfill.get("vocabulary") or {}
    if "judged" not in vocabulary:
        raise ValueError("the package's vocabulary has no judged counts (python3 -m flowfill.vocabulary … --checks)")
    ids = subject_ids_by_name(manifest)
    weak = []
    for kind in vocabulary["kinds"]:
        for s in kind["subjects"]:
            recognised, images = s.get("judged", (0, 0))
            if images and recognised < below * images:
                if (kind["kind"], s["name"]) not in ids:
                    raise ValueError(f"{kind['kind']} {s['name']!r} of the package is not a subject of this dataset")
                weak.append(ids[(kind["kind"], s["name"])])
    return sorted(weak)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", help="a package folder with a flowfill.json")
    ap.add_argument("--data", default=".cache/data", help="the dataset the model was trained on (its manifest.json)")
    ap.add_argument("--train-subjects", choices=tuple(TRAIN_SUBJECTS), default="core")
    ap.add_argument("--checks", nargs="+", default=[], metavar="JSON",
                    help="sampler_check --json results of this package at its recommended sampler and one size: "
                         "each subject gets the share of its images the judge recognised")
    a = ap.parse_args(argv)
    path = Path(a.package) / "flowfill.json"
    flowfill = json.loads(path.read_text())
    manifest = json.loads((Path(a.data) / "manifest.json").read_text())
    try:
        judged = judged_counts(manifest, flowfill, [json.loads(Path(f).read_text()) for f in a.checks]) if a.checks else None
        vocabulary = prompt_vocabulary(manifest, subject_ids_of(manifest, a.train_subjects), judged)
    except ValueError as e:
        ap.error(str(e))
    # The block takes the place of the free-text note it replaces, so the file reads in the same order.
    keys = list(dict.fromkeys("vocabulary" if k == "vocabulary_note" else k for k in [*flowfill, "vocabulary"]))
    flowfill = {k: (vocabulary if k == "vocabulary" else flowfill[k]) for k in keys}
    path.write_text(json.dumps(flowfill, indent=2))
    counts = {k["kind"]: len(k["subjects"]) for k in flowfill["vocabulary"]["kinds"]}
    judged = f", judged on {vocabulary['judged']['images']} images" if "judged" in vocabulary else ""
    print(f"{path}: vocabulary of {counts} subjects, {flowfill['vocabulary']['other_subjects']} others{judged}")


if __name__ == "__main__":
    main()
