"""The ship rule, applied to a candidate's sampler checks against the shipped model's, set by set: one verdict, and
every reason for it, from the checks' JSONs alone (no GPU, no torch).

  cd model && python3 -m flowfill.ship_rule eval/v2-deep16/sampler-checks m2930 avg23-24,v210 [--layout-seed-index 20]
        [--json verdict.json]

The candidate's checks are `<folder>/<candidate>-<check name>.json` (gpu-slice.sh --check's names); each is paired
(flowfill.paired) with the shipped side's check of the same name, from the first of its comma-separated labels that
has one. Only the GPU's checks count: a CPU check holds 50-100 images, too few for a one-standard-error bar, and
session 52 settled the CPU's reading of a set by the GPU's. --guidance keeps the checks at one guidance (a candidate
checked at two is otherwise judged at both); the WASM int8 products' and swapped decoders' checks are judged as
sets of their own and count for no required set.

The rule (session 52's, with session 53's amendment), each clause a reason to refuse:
- among the trained subjects (subject_top1_vocab), no set is lower by more than one standard error. A set checked
  more than once (other seed indices, at one sampler) is judged on all its images together, the per-image differences
  of its pairs pooled: a larger check of a set that read low on few images settles it, as session 52's did, without
  the first reading being dropped;
- the 512² icons are drawn as one whole subject (whole_centred_single) within one standard error of the shipped
  model, judged on the check at --layout-seed-index: the shipped state was picked on seeds 5-9 (seed index 5), so on
  those seeds its lead is partly the pick's luck, which a candidate would have to beat as well (session 53);
- v1_emoji at 256², 1:1: style at least 90 % and a Fréchet distance at most 101 (issue 12's targets: half v1's 202.0).
A candidate with every clause met but a required set not paired is incomplete, not shipped: the eleven sets are
v1_emoji and icons at 256² and 512², the thin icons at 256², and both sets at 16:9, 1:4 and 4:1 (512²'s area).
"""
import argparse
import json
from pathlib import Path

from .paired import check_name, described, paired_differences
from .vocabulary import SQUARE, aspect_of

MIN_STYLE = 0.90
MAX_FD = 101.0
SUBJECT = "subject_top1_vocab"
LAYOUT = "whole_centred_single"
# (set, size, aspect, style): what sampler_check's --set, --size, --aspect and --style drew.
REQUIRED = (("v1_emoji", 256, SQUARE, None), ("v1_emoji", 512, SQUARE, None), ("icons", 256, SQUARE, None),
            ("icons", 512, SQUARE, None), ("icons", 256, SQUARE, "thin"),
            *((s, 512, a, None) for s in ("v1_emoji", "icons") for a in ("16:9", "1:4", "4:1")))
LAYOUT_SET = ("icons", 512, SQUARE, None)
STYLE_SET = ("v1_emoji", 256, SQUARE, None)


def drawn(check: dict) -> tuple:
    return check["set"], check["size"], aspect_of(check), check.get("style")


def judged_as(check: dict) -> tuple:
    """What makes two checks of one candidate the same set drawn the same way (their seed indices may differ)."""
    sampler = check["sampler"]
    return (*drawn(check), sampler["shift"], sampler["guidance"], check.get("steps", 20), check.get("products"),
            check.get("decoder"))


def standard(check: dict) -> bool:
    return check.get("products") is None and check.get("decoder") is None


def points(d: dict) -> list[float]:
    """A paired difference as [points, standard error in points], one decimal each."""
    return [round(100 * d["difference"], 1), round(100 * (d["standard_error"] or 0.0), 1)]


def lower(d: dict) -> bool:
    """Lower by more than one standard error: the rule's bar."""
    return d["difference"] < -(d["standard_error"] or 0.0)


def pooled(parts: list[dict]) -> dict:
    """One rate's paired differences over the images of several pairs together, from each pair's mean, standard error
    and n (the same numbers as the concatenated per-image differences would give)."""
    n = sum(p["n"] for p in parts)
    mean = sum(p["n"] * p["difference"] for p in parts) / n
    squares = sum((p["n"] - 1) * ((p["standard_error"] or 0.0) ** 2 * p["n"]) + p["n"] * p["difference"] ** 2 for p in parts)
    se = (max(squares - n * mean ** 2, 0.0) / (n - 1) / n) ** 0.5 if n > 1 else None
    return {"difference": mean, "standard_error": se, "n": n}


def describe(which: tuple) -> str:
    name, size, aspect, style = which
    return f"{name}{' ' + style if style else ''} {size}²{'' if aspect == SQUARE else ' ' + aspect}"


def pairs(folder: Path, candidate: str, shipped: list[str], guidance: float | None = None) -> list[dict]:
    """Every GPU check of the candidate that one of the shipped labels has under the same name, paired."""
    out = []
    for path in sorted(folder.glob(f"{candidate}-*.json")):
        name = path.name[len(candidate) + 1:]
        this = json.loads(path.read_text())
        # A label that begins another ("avg23-24" of "avg23-24-26-…") globs that one's checks too; the rest of the
        # file's name is then not the check's own.
        if name != f"{check_name(this)}.json":
            continue
        other = next((folder / f"{label}-{name}" for label in shipped if (folder / f"{label}-{name}").exists()), None)
        if other is None or described(this, ("device",)) != ["cuda"]:
            continue
        if guidance is not None and this["sampler"]["guidance"] != guidance:
            continue
        that = json.loads(other.read_text())
        out.append({"name": name, "seed_index": this.get("seed_index", 0), "this": this,
                    "other_label": other.name[:-len(name) - 1], "differences": paired_differences(this, that)})
    return out


def verdict(paired: list[dict], layout_seed_index: int) -> dict:
    refusals, rows = [], []
    for p in paired:
        d = p["differences"]
        rows.append({"check": p["name"], "against": p["other_label"], "n": d[SUBJECT]["n"],
                     **{k: points(d[k]) for k in (SUBJECT, "style", LAYOUT) if k in d}})
    sets = []
    for key in dict.fromkeys(judged_as(p["this"]) for p in paired):
        group = [p for p in paired if judged_as(p["this"]) == key]
        s = pooled([p["differences"][SUBJECT] for p in group])
        first = group[0]["this"]
        sets.append({"set": describe(drawn(first)), "checks": [p["name"] for p in group], "n": s["n"], SUBJECT: points(s)})
        if lower(s):
            seeds = ", ".join(str(p["seed_index"]) for p in group)
            refusals.append(f"{describe(drawn(first))}{'' if standard(first) else ' (' + group[0]['name'] + ')'} "
                            f"(seed index {seeds}, n {s['n']}): among the trained subjects {100 * s['difference']:+.1f} ± "
                            f"{100 * s['standard_error']:.1f} points, lower by more than one standard error")
    layout = [p for p in paired if drawn(p["this"]) == LAYOUT_SET and standard(p["this"]) and p["seed_index"] == layout_seed_index]
    for p in layout:
        w = p["differences"][LAYOUT]
        if lower(w):
            refusals.append(f"{describe(LAYOUT_SET)} (seed index {layout_seed_index}): one whole subject "
                            f"{100 * w['difference']:+.1f} ± {100 * w['standard_error']:.1f} points, lower by more than one standard error")
    own = [p["this"] for p in paired if drawn(p["this"]) == STYLE_SET and standard(p["this"])]
    for c in own:
        scores = c["scores"]
        if scores["style"] < MIN_STYLE:
            refusals.append(f"{describe(STYLE_SET)}: style {100 * scores['style']:.1f} % < {100 * MIN_STYLE:.0f} %")
        if scores.get("frechet_distance", 0.0) > MAX_FD:
            refusals.append(f"{describe(STYLE_SET)}: FD {scores['frechet_distance']:.1f} > {MAX_FD:g}")
    have = {drawn(p["this"]) for p in paired if standard(p["this"])}
    missing = [describe(r) for r in REQUIRED if r not in have]
    if not layout:
        missing.append(f"{describe(LAYOUT_SET)} at seed index {layout_seed_index} (the layout's clause)")
    return {"ships": not refusals and not missing, "refusals": refusals, "missing": missing, "pairs": rows, "sets": sets,
            "layout_seed_index": layout_seed_index}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", help="the sampler checks' folder (e.g. eval/v2-deep16/sampler-checks)")
    ap.add_argument("candidate", help="the candidate's label: its checks are <folder>/<label>-<check name>.json")
    ap.add_argument("shipped", help="the shipped model's labels, comma-separated, the first that has a check's name is used")
    ap.add_argument("--layout-seed-index", type=int, default=20, help="the seed index the 512² icons' layout is judged on "
                    "(default 20: seeds no pick was made on)")
    ap.add_argument("--guidance", type=float, help="judge only the checks at this guidance (the one the candidate would ship at)")
    ap.add_argument("--json", help="also write the verdict here")
    a = ap.parse_args(argv)
    paired = pairs(Path(a.folder), a.candidate, a.shipped.split(","), a.guidance)
    if not paired:
        ap.error(f"no GPU check of {a.candidate!r} in {a.folder} has a namesake under {a.shipped!r}")
    result = {"candidate": a.candidate, "shipped": a.shipped, **verdict(paired, a.layout_seed_index)}
    for row in result["pairs"]:
        cells = "  ".join(f"{k} {v[0]:+.1f} ± {v[1]:.1f}" for k, v in row.items() if isinstance(v, list))
        print(f"{row['check']:<52} n {row['n']:>5}  {cells}  (against {row['against']})")
    for judged in result["sets"]:
        if len(judged["checks"]) > 1:
            d, se = judged[SUBJECT]
            print(f"{judged['set']}, {len(judged['checks'])} checks pooled: n {judged['n']}, {SUBJECT} {d:+.1f} ± {se:.1f}")
    state = "SHIPS" if result["ships"] else ("REFUSED" if result["refusals"] else "INCOMPLETE")
    print(f"{a.candidate} against {a.shipped}: {state}")
    for r in result["refusals"]:
        print(f"  refused: {r}")
    for m in result["missing"]:
        print(f"  not checked: {m}")
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
