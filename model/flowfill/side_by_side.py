"""What a rate hides: a model's images of held-out prompts (one set's, or one style's of it) beside real renders of
the same prompts, with the judge's reading of each image. Row 1 real renders, row 2 the model's images (its
recommended sampler, seed 101, 256²); each column one prompt, printed with what the judge read (among the
trained subjects) from the render and from the model's image:

  cd model && python3 -m flowfill.side_by_side [state] --set icons --style thin --n 12 -o thin.png [--steps 20] \
      [--shift S] [--guidance G] [--json readings.json] [--device cpu]

CPU, 2 cores: about 7 s an image at 16 blocks.
"""
import argparse
import json

import torch

from . import resume
from .confusions import drawn_subjects
from .data import FlowfillData
from .evaluate import REAL_RENDER_SEED, real_renders, run_generation, sampler_choice, save_grid
from .run import TRAIN_SUBJECTS, train_subject_ids
from .vocabulary import check_prompts


def readings(data: FlowfillData, prompts: list[dict], real: list[int], drawn: list[int]) -> list[dict]:
    """Per prompt: its text, the subject asked, and what the judge read from the render and from the model's image."""
    label = lambda i: data.subjects[i]["label"]  # noqa: E731
    return [{"prompt": p["text"], "asked": label(p["subject"]), "render_read_as": label(r), "image_read_as": label(g),
             "recognised": g == p["subject"]} for p, r, g in zip(prompts, real, drawn)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", nargs="?", default="eval/v2-candidate", help="a resume folder (package/ + extras.json + classifier.npz)")
    ap.add_argument("--set", default="icons")
    ap.add_argument("--style", help="only the prompts asking for this style (e.g. thin)")
    ap.add_argument("--n", type=int, default=12, help="prompts: the first N of the set (or style)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--shift", type=float, help="the sampler's shift (default: the model's own choice)")
    ap.add_argument("--guidance", type=float, help="classifier-free guidance (default: the model's own choice)")
    ap.add_argument("--train-subjects", choices=tuple(TRAIN_SUBJECTS), default="core")
    ap.add_argument("--data", default=".cache/data")
    ap.add_argument("-o", "--out", required=True, help="the PNG to write")
    ap.add_argument("--json", help="also write the readings here")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    data = FlowfillData(a.data, a.device)
    try:
        prompts = check_prompts(data.manifest, a.set, a.style, a.n)
    except ValueError as e:
        ap.error(str(e))
    state = resume.load(a.state, data, a.device)
    clf, pipe, own = state["classifier"], resume.pipeline(state, data), state["scheduler"]
    sampler = sampler_choice(own, a.shift, a.guidance)
    vocabulary = train_subject_ids(data, a.train_subjects)
    with torch.no_grad():
        images = run_generation(pipe, prompts, a.size, a.size, steps=a.steps, guidance=sampler["guidance"], shift=sampler["shift"],
                                seed=101)
        real = real_renders(data, prompts, a.size, a.size, REAL_RENDER_SEED)
        rows = readings(data, prompts, drawn_subjects(clf, real, vocabulary), drawn_subjects(clf, images, vocabulary))
    save_grid(a.out, torch.cat([real.to(images.device), images]), cols=len(prompts), gap=4)
    result = {"model": f"{a.state} ({state['dit_steps']} DiT steps)", "set": a.set, "style": a.style, "size": a.size,
              "sampler": sampler, "steps": a.steps,
              "recognised": sum(r["recognised"] for r in rows), "prompts": rows}
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    for k, r in enumerate(rows):
        print(f"{k + 1:2d}. {'✓' if r['recognised'] else '✗'} {r['prompt']}: image read as {r['image_read_as']}"
              f" (render as {r['render_read_as']})")
    print(f"{result['recognised']} of {len(rows)} recognised; {a.out}: renders above, the model's images below")
    return result


if __name__ == "__main__":
    main()
