"""Which core icons a model draws unrecognisably, against what their renders look like: is an icon hard because the
three icon sets draw it differently (the model averages them), or because another core icon looks like it (a loose
likeness is read as the neighbour)? Each icon's rate comes from a package's judged counts (`--judged`) or a
sampler_check with per-image results (`--check`); its shape measures from the dataset's SDF atlas, in one style:

  own     how alike its own renders are (the sets' drawings of it), mean pairwise similarity
  nearest how alike its renders are to the closest render of another core icon, mean over its renders

Similarity is the cosine of two centred signed-distance fields at 32², smooth where two line drawings a pixel
apart would share no ink. No GPU and no torch; printed, never asserted:

  cd model && python3 -m flowfill.icon_difficulty --data .cache/data --judged ../models/default/flowfill.json \
      --check eval/v2-deep16/sampler-checks/call15-control-icons-t256-g2-n1000-s5.json
"""
import argparse
import gzip
import json
from itertools import combinations
from pathlib import Path

import numpy as np

from .vocabulary import add_subject_tallies, subject_ids_by_name

ATLAS = "icons-sdf"


def icon_fields(data_dir: Path, manifest: dict) -> np.ndarray:
    """The icon atlas's signed-distance fields, one float 2-D array each, pooled to half size."""
    info = manifest["atlases"][ATLAS]
    raw = np.frombuffer(gzip.decompress((data_dir / info["file"]).read_bytes()), np.uint8)
    size = info["size"]
    fields = raw.reshape(-1, size, size).astype(np.float32)
    return fields.reshape(len(fields), size // 2, 2, size // 2, 2).mean(axis=(2, 4))


def unit_vectors(fields: np.ndarray) -> np.ndarray:
    flat = fields.reshape(len(fields), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    return flat / np.maximum(np.linalg.norm(flat, axis=1, keepdims=True), 1e-9)


def shape_measures(manifest: dict, fields: np.ndarray, subjects: list[int], style: str = "line") -> dict[int, dict]:
    """Per subject: `own` (its renders' mean pairwise similarity; None with one render) and `nearest` (each render's
    highest similarity to another subject's render, averaged), over its renders in `style` among `subjects`."""
    style_index = next(i for i, s in enumerate(manifest["styles"]) if s["name"] == style and s["atlas"] == ATLAS)
    wanted = set(subjects)
    sprites = [s for s in manifest["sprites"] if s["atlas"] == ATLAS and s["style"] == style_index and s["subject"] in wanted]
    if not sprites:
        raise ValueError(f"no {style} renders of these subjects in the atlas")
    owner = np.array([s["subject"] for s in sprites])
    vectors = unit_vectors(fields[[s["index"] for s in sprites]])
    similar = vectors @ vectors.T
    out = {}
    for subject in subjects:
        mine = np.flatnonzero(owner == subject)
        others = np.flatnonzero(owner != subject)
        if len(mine) == 0 or len(others) == 0:
            continue
        pairs = [similar[i, j] for i, j in combinations(mine, 2)]
        out[subject] = {"own": float(np.mean(pairs)) if pairs else None,
                        "nearest": float(similar[np.ix_(mine, others)].max(axis=1).mean())}
    return out


def rates_from_check(manifest: dict, check: dict) -> dict[int, float]:
    """Each subject's share of its images the judge named right among the vocabulary (subject_top1_vocab)."""
    tallies = add_subject_tallies({}, manifest, check, check["scores"]["per_image"]["subject_top1_vocab"])
    return {s: right / n for s, (right, n) in tallies.items()}


def rates_from_judged(manifest: dict, flowfill: dict, kind: str = "icon") -> dict[int, float]:
    """Each subject's judged share in a package's vocabulary (flowfill.vocabulary --checks)."""
    ids = subject_ids_by_name(manifest)
    return {ids[(k["kind"], s["name"])]: s["judged"][0] / s["judged"][1]
            for k in flowfill["vocabulary"]["kinds"] if k["kind"] == kind for s in k["subjects"] if s.get("judged")}


def relation(measure: dict[int, float], rates: dict[int, float], bins: int = 4) -> dict:
    """The correlation of a shape measure with the rates, and the mean rate in each quantile bin of the measure."""
    subjects = sorted(s for s in measure if s in rates and measure[s] is not None)
    x = np.array([measure[s] for s in subjects])
    y = np.array([rates[s] for s in subjects])
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    return {"n": len(subjects), "correlation": float(np.corrcoef(x, y)[0, 1]),
            "bins": [{"from": float(edges[b]), "to": float(edges[b + 1]), "n": int((which == b).sum()),
                      "rate": float(y[which == b].mean())} for b in range(bins) if (which == b).any()]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=".cache/data", help="the dataset (manifest.json and the icon atlas)")
    ap.add_argument("--judged", action="append", default=[], metavar="FLOWFILL_JSON", help="a package's judged counts")
    ap.add_argument("--check", action="append", default=[], metavar="JSON", help="a sampler_check --json of the icons set")
    ap.add_argument("--style", default="line")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args(argv)
    data = Path(a.data)
    manifest = json.loads((data / "manifest.json").read_text())
    icons = sorted({p["subject"] for p in manifest["eval_sets"]["icons"]})
    shapes = shape_measures(manifest, icon_fields(data, manifest), icons, a.style)
    sources = {f: rates_from_judged(manifest, json.loads(Path(f).read_text())) for f in a.judged}
    sources |= {f: rates_from_check(manifest, json.loads(Path(f).read_text())) for f in a.check}
    if not sources:
        ap.error("give --judged and/or --check: the rates to relate the shapes to")
    result = {"style": a.style, "icons": len(shapes), "by_source": {}}
    for name, rates in sources.items():
        result["by_source"][name] = {m: relation({s: v[m] for s, v in shapes.items()}, rates) for m in ("own", "nearest")}
    names = list(sources)
    for first, second in combinations(names, 2):
        common = sorted(set(sources[first]) & set(sources[second]))
        r = np.corrcoef([sources[first][s] for s in common], [sources[second][s] for s in common])[0, 1]
        result.setdefault("between_sources", []).append({"a": first, "b": second, "n": len(common), "correlation": float(r)})
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1))
    print(f"{len(shapes)} core icons, {a.style} renders")
    for name, by_measure in result["by_source"].items():
        print(name)
        for measure, r in by_measure.items():
            bins = ", ".join(f"{b['from']:.2f}–{b['to']:.2f}: {100 * b['rate']:.0f} %" for b in r["bins"])
            print(f"  {measure:8s} r = {r['correlation']:+.2f} (n {r['n']}); rate by quartile: {bins}")
    for pair in result.get("between_sources", []):
        print(f"the same icons' rates, {pair['a']} against {pair['b']}: r = {pair['correlation']:+.2f} (n {pair['n']})")
    return result


if __name__ == "__main__":
    main()
