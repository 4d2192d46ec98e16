"""The prompt vocabulary a package declares in flowfill.json ("vocabulary"): the subjects its transformer
was trained to draw, by kind, with the styles each one has, the named colours, and one caption template per
kind. The panel reads it to offer those subjects and styles, to word its style chips as the captions were
worded, and to say when a prompt names none of the subjects (the engine's tokenizer separately names the
words it does not know at all).

Only the data manifest and the training's subject choice go in, so this module needs no torch:

  python3 -m flowfill.vocabulary <package folder> [--data .cache/data] [--train-subjects core]

writes the block into an existing package's flowfill.json (outside the package hash: no graph changes).
export.py writes it into every package it makes.
"""
import argparse
import json
from pathlib import Path

# --train-subjects: the evaluation sets whose subjects the DiT trains on (none named = every subject).
# core = v1's 200 emoji and the 200 icons all three icon sets draw: a vocabulary sized to what the
# model can hold (model/README.md, "Where the subjects stand, and the decision").
TRAIN_SUBJECTS = {"all": (), "v1": ("v1_emoji",), "core": ("v1_emoji", "icons")}


def subject_ids_of(manifest: dict, choice: str) -> list[int] | None:
    """The subject ids a --train-subjects choice trains on; None = every subject."""
    names = TRAIN_SUBJECTS[choice]
    return sorted({p["subject"] for name in names for p in manifest["eval_sets"][name]}) if names else None


def prompt_vocabulary(manifest: dict, subject_ids: list[int] | None) -> dict:
    """flowfill.json's "vocabulary" for a transformer trained on `subject_ids` (None = all) of `manifest`."""
    subjects = manifest["subjects"]
    chosen = [subjects[i] for i in subject_ids] if subject_ids is not None else list(subjects)
    style_names = [s["name"] for s in manifest["styles"]]
    kinds = []
    for kind in ("emoji", "icon"):
        mine = sorted((s for s in chosen if s["kind"] == kind), key=lambda s: s["names"][0])
        if not mine:
            continue
        kinds.append({
            "kind": kind,
            # The first template is the plainest wording of a caption of this kind.
            "prompt": manifest["templates"][kind][0],
            "styles": [s["name"] for s in manifest["styles"] if s["kind"] == kind],
            "subjects": [{"name": s["names"][0],
                          **({"aliases": s["names"][1:]} if len(s["names"]) > 1 else {}),
                          "styles": [style_names[int(k)] for k in sorted(s["sprites"], key=int)]} for s in mine],
        })
    return {
        "about": "The subjects this model was trained to draw, each with the styles it was drawn in, and how its "
                 "training captions read. Backgrounds and icon colours are the named colours; a background may also "
                 "be '<colour> to <colour> gradient'. Other subjects' names are known words, drawn poorly.",
        "kinds": kinds,
        "colours": [c["name"] for c in manifest["colours"]],
        "other_subjects": len(subjects) - len(chosen),
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("package", help="a package folder with a flowfill.json")
    ap.add_argument("--data", default=".cache/data", help="the dataset the model was trained on (its manifest.json)")
    ap.add_argument("--train-subjects", choices=tuple(TRAIN_SUBJECTS), default="core")
    a = ap.parse_args(argv)
    path = Path(a.package) / "flowfill.json"
    flowfill = json.loads(path.read_text())
    manifest = json.loads((Path(a.data) / "manifest.json").read_text())
    vocabulary = prompt_vocabulary(manifest, subject_ids_of(manifest, a.train_subjects))
    # The block takes the place of the free-text note it replaces, so the file reads in the same order.
    keys = list(dict.fromkeys("vocabulary" if k == "vocabulary_note" else k for k in [*flowfill, "vocabulary"]))
    flowfill = {k: (vocabulary if k == "vocabulary" else flowfill[k]) for k in keys}
    path.write_text(json.dumps(flowfill, indent=2))
    counts = {k["kind"]: len(k["subjects"]) for k in flowfill["vocabulary"]["kinds"]}
    print(f"{path}: vocabulary of {counts} subjects, {flowfill['vocabulary']['other_subjects']} others")


if __name__ == "__main__":
    main()
