"""Two sampler_check JSONs of one held-out set, paired image by image: each rate's difference, its standard error over
the images, and the images only one side got right. The same prompts and noise on both sides (sampler_check's seeds),
so a step that two unpaired counts of n = 1,000 cannot separate can show. The samplers may differ (a student at
guidance 1 against its teacher at 2, or 10 steps against 20: the sampler is deterministic from the same starting
noise). No GPU and no torch: the JSONs' per-image results are all it reads.

  cd model && python3 -m flowfill.paired new.json old.json [--json out.json] [--weak-from flowfill.json] [--across-sizes]
  cd model && python3 -m flowfill.paired new-s5.json,new-s6.json old-s5.json,old-s6.json   # parts joined in order

--across-sizes pairs two checks that differ only in image size or shape (a state's 512² against its 256², or its 16:9
against its 1:1). The prompts and seed numbers are the same, but the noise is not (its shape differs), so the pairing
takes out how hard each prompt is, not the luck of each draw: a weaker pairing than the same size's, still stronger
than two unpaired rates.

--weak-from also pairs the images of the subjects that package's judged counts find weak (vocabulary.weak_subject_ids)
apart from the others': a recipe aimed at the weak subjects (run.py --weak-share) should lift the first without
costing the second.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from .vocabulary import SQUARE, aspect_of, image_subjects, weak_subject_ids

# The device is the starting noise's: torch draws other numbers from one seed on the CPU than on CUDA, so checks of two
# devices hold other images under the same prompts and seeds.
SAME = ("set", "size", "aspect", "seeds", "seed_index", "limit", "style", "device")
# Checks written before session 30 drew from the first seed on, and before session 41 at 1:1 alone. Before session
# 53 none recorded its device: the GPU's, but for the CPU checks (named "cpu"), since given theirs.
DEFAULTS = {"seed_index": 0, "aspect": SQUARE, "device": "cuda"}


def described(check: dict, keys) -> list:
    """The check's values of `keys`, an older check's missing ones read as DEFAULTS say they were."""
    return [check.get(k, DEFAULTS.get(k)) for k in keys]


def check_name(result: dict) -> str:
    """A sampler_check JSON's file name in gpu-slice.sh's checks/ (after "carried-" or "new-"): everything that makes
    two checks of one state differ, so a call's checks never overwrite each other. The set is named unless it is
    v1_emoji (the names before session 31 were v1_emoji's alone), and so are a seed index and a prompt limit. The
    sampler's shift is named since session 38 (two checks of one state at two shifts had one name); older names lack it.
    Steps other than the evaluation's 20 are named since session 39 (a teacher checked at 10 steps and at 20), and an
    aspect other than 1:1 since session 41 ("a16x9"), and the WASM int8 products since session 45 ("-int8"; exact
    products, as every check before, are not named). A check drawn on the CPU ends its name in "-cpu" before those,
    as the CPU checks named by hand did (the GPU's are not named)."""
    set_name = "" if result["set"] == "v1_emoji" else f"{result['set']}-"
    steps = f"-steps{result['steps']}" if result.get("steps", 20) != 20 else ""
    seed_index = f"-s{result['seed_index']}" if result.get("seed_index") else ""
    limit = f"-l{result['limit']}" if result.get("limit") else ""
    style = f"-{result['style']}" if result.get("style") else ""
    aspect = f"-a{aspect_of(result).replace(':', 'x')}" if aspect_of(result) != SQUARE else ""
    device = "-cpu" if described(result, ("device",)) == ["cpu"] else ""
    products = "-int8" if result.get("products") == "int8" else ""
    decoder = f"-dec-{decoder_label(result['decoder'])}" if result.get("decoder") else ""
    sampler = result["sampler"]
    return (f"{set_name}t{result['size']}-sh{sampler['shift']:g}-g{sampler['guidance']:g}-n{result['scores']['n']}{seed_index}{limit}"
            f"{style}{aspect}{steps}{device}{products}{decoder}")


def decoder_label(path: str) -> str:
    """A swapped-in decoder's name in a check's name (since session 48, whose three decoders' checks in one call
    shared one): its folder's for decoder_tune's OUT/decoder.pt, else the file's stem."""
    p = Path(path)
    return p.parent.name if p.name == "decoder.pt" else p.stem


def paired_differences(this: dict, other: dict, images: list[int] | None = None, across_sizes: bool = False) -> dict:
    """Each rate's this − other over the same images (prompt and seed), or those of them numbered in `images`, its
    standard error (the spread of the per-image differences / √n), and the discordant counts: images only this got
    right, and only the other. `across_sizes` lets the two checks' image sizes differ (the module's doc says what
    such a pairing does and does not take out)."""
    same = tuple(k for k in SAME if not (across_sizes and k in ("size", "aspect")))
    mine_keys, their_keys = (described(j, same) for j in (this, other))
    if mine_keys != their_keys or any("per_image" not in j.get("scores", {}) for j in (this, other)):
        raise ValueError(f"pairing needs two sampler_check JSONs of the same {', '.join(same)} with per-image results "
                         f"(this {mine_keys}, that {their_keys})")
    mine, theirs = this["scores"]["per_image"], other["scores"]["per_image"]
    out = {"model": other.get("model"), "sampler": other.get("sampler")}
    for key in sorted(set(mine) & set(theirs)):
        d = np.asarray(mine[key], dtype=float) - np.asarray(theirs[key], dtype=float)
        if images is not None:
            d = d[images]
        out[key] = {"difference": float(d.mean()), "standard_error": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None,
                    "only_this": int((d > 0).sum()), "only_other": int((d < 0).sum()), "n": len(d)}
    return out


def joined(checks: list[dict]) -> dict:
    """Checks of one state and sampler drawn at other seed indices or prompt limits, read as one check of all their
    images in order. The joined check's seed_index and limit are the parts' lists, so it pairs only with a join of
    the same parts in the same order. Where the parts repeat prompts, the standard errors read a little small. The
    parts must also share their products and decoder: an int8 part joined to an exact one would read as one drawing."""
    if len(checks) == 1:
        return checks[0]
    first = checks[0]
    parted = ("seed_index", "limit")
    shared = (*(k for k in SAME if k not in parted), "sampler", "steps", "products", "decoder")
    for c in checks[1:]:
        for k, mine, theirs in zip(shared, described(first, shared), described(c, shared)):
            if mine != theirs:
                raise ValueError(f"joining needs checks of the same {k} (got {mine} and {theirs})")
    keys = set.intersection(*(set(c["scores"]["per_image"]) for c in checks))
    return {**first, **{k: [described(c, (k,))[0] for c in checks] for k in parted},
            "scores": {"per_image": {k: [v for c in checks for v in c["scores"]["per_image"][k]] for k in sorted(keys)}}}


def read_side(paths: str) -> dict:
    """A command line's side: one sampler_check JSON, or several joined (comma-separated)."""
    checks = []
    for path in paths.split(","):
        with open(path) as f:
            checks.append(json.load(f))
    return joined(checks)


def weak_and_other_images(manifest: dict, flowfill: dict, check: dict) -> dict[str, list[int]]:
    """The check's image numbers whose subject `flowfill`'s judged counts find weak, and the others'."""
    weak = set(weak_subject_ids(manifest, flowfill))
    n = len(next(iter(check["scores"]["per_image"].values())))
    subjects = image_subjects(manifest, check, n)
    return {"weak subjects": [k for k in range(n) if subjects[k] in weak],
            "other subjects": [k for k in range(n) if subjects[k] not in weak]}


def print_differences(title: str, differences: dict):
    print(title)
    for key, r in differences.items():
        if isinstance(r, dict) and "difference" in r:
            se = "—" if r["standard_error"] is None else f"{100 * r['standard_error']:.1f}"
            print(f"  {key:20s} {100 * r['difference']:+5.1f} ± {se} points  (only this {r['only_this']}, "
                  f"only the other {r['only_other']}, n {r['n']})")


def sizes(this: dict, other: dict) -> str:
    def shape(check: dict) -> str:
        aspect = aspect_of(check)
        return f"{check['size']}²" + ("" if aspect == SQUARE else f" at {aspect} ({check['width']}×{check['height']})")

    if shape(this) == shape(other):
        return shape(this)
    return f"{shape(this)} − {shape(other)} (paired by prompt and seed number, not by noise)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("this", help="a sampler_check --json (the newer state, or the sampler tried); several, comma-separated, "
                                 "are joined (e.g. the same prompts at other seed indices)")
    ap.add_argument("other", help="one of the same set, size, seeds and prompts to pair it with (joined likewise)")
    ap.add_argument("--json", help="write the differences here")
    ap.add_argument("--weak-from", metavar="FLOWFILL_JSON",
                    help="also pair the images of this package's weak subjects apart from the others'")
    ap.add_argument("--data", default=".cache/data", help="with --weak-from: the dataset (its manifest.json)")
    ap.add_argument("--across-sizes", action="store_true",
                    help="pair checks of two image sizes or shapes by prompt and seed number (not the same noise)")
    a = ap.parse_args(argv)
    this, other = read_side(a.this), read_side(a.other)
    if a.weak_from and isinstance(this.get("limit"), list):
        ap.error("--weak-from reads one check's prompts: pair joined checks without it")
    result = {"this": {"file": a.this, "model": this.get("model"), "sampler": this.get("sampler")},
              "other": {"file": a.other, **paired_differences(this, other, across_sizes=a.across_sizes)}}
    if a.weak_from:
        with open(a.weak_from) as f, open(Path(a.data) / "manifest.json") as g:
            groups = weak_and_other_images(json.load(g), json.load(f), this)
        result["by_group"] = {name: {"images": len(images), **paired_differences(this, other, images, a.across_sizes)}
                              for name, images in groups.items()}
    if a.json:  # before the printout, as sampler_check: a closed stdout must not lose the file
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print_differences(f"{this.get('model')} {this.get('sampler')}, {this.get('steps')} steps − "
                      f"{other.get('model')} {other.get('sampler')}, {other.get('steps')} steps: "
                      f"{this['set']} at {sizes(this, other)}, {this['seeds']} seed(s)", result["other"])
    for name, differences in result.get("by_group", {}).items():
        print_differences(f"{name} of {a.weak_from} ({differences['images']} images):", differences)
    return result


if __name__ == "__main__":
    main()
