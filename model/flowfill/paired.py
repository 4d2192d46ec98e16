"""Two sampler_check JSONs of one held-out set, paired image by image: each rate's difference, its standard error over
the images, and the images only one side got right. The same prompts and noise on both sides (sampler_check's seeds),
so a step that two unpaired counts of n = 1,000 cannot separate can show. The samplers may differ (a student at
guidance 1 against its teacher at 2, or 10 steps against 20: the sampler is deterministic from the same starting
noise). No GPU and no torch: the JSONs' per-image results are all it reads.

  cd model && python3 -m flowfill.paired new.json old.json [--json out.json]
"""
import argparse
import json

import numpy as np

SAME = ("set", "size", "seeds", "seed_index", "limit")
DEFAULTS = {"seed_index": 0}  # checks written before session 30 drew from the first seed on


def check_name(result: dict) -> str:
    """A sampler_check JSON's file name in gpu-slice.sh's checks/ (after "carried-" or "new-"): everything that makes
    two checks of one state differ, so a call's checks never overwrite each other. The set is named unless it is
    v1_emoji (the names before session 31 were v1_emoji's alone), and so are a seed index and a prompt limit."""
    set_name = "" if result["set"] == "v1_emoji" else f"{result['set']}-"
    seed_index = f"-s{result['seed_index']}" if result.get("seed_index") else ""
    limit = f"-l{result['limit']}" if result.get("limit") else ""
    return f"{set_name}t{result['size']}-g{result['sampler']['guidance']:g}-n{result['scores']['n']}{seed_index}{limit}"


def paired_differences(this: dict, other: dict) -> dict:
    """Each rate's this − other over the same images (prompt and seed), its standard error (the spread of the
    per-image differences / √n), and the discordant counts: images only this got right, and only the other."""
    mine_keys, their_keys = ([j.get(k, DEFAULTS.get(k)) for k in SAME] for j in (this, other))
    if mine_keys != their_keys or any("per_image" not in j.get("scores", {}) for j in (this, other)):
        raise ValueError(f"pairing needs two sampler_check JSONs of the same {', '.join(SAME)} with per-image results "
                         f"(this {mine_keys}, that {their_keys})")
    mine, theirs = this["scores"]["per_image"], other["scores"]["per_image"]
    out = {"model": other.get("model"), "sampler": other.get("sampler")}
    for key in sorted(set(mine) & set(theirs)):
        d = np.asarray(mine[key], dtype=float) - np.asarray(theirs[key], dtype=float)
        out[key] = {"difference": float(d.mean()), "standard_error": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else None,
                    "only_this": int((d > 0).sum()), "only_other": int((d < 0).sum()), "n": len(d)}
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("this", help="a sampler_check --json (the newer state, or the sampler tried)")
    ap.add_argument("other", help="one of the same set, size, seeds and prompts to pair it with")
    ap.add_argument("--json", help="write the differences here")
    a = ap.parse_args(argv)
    with open(a.this) as f, open(a.other) as g:
        this, other = json.load(f), json.load(g)
    result = {"this": {"file": a.this, "model": this.get("model"), "sampler": this.get("sampler")},
              "other": {"file": a.other, **paired_differences(this, other)}}
    if a.json:  # before the printout, as sampler_check: a closed stdout must not lose the file
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    print(f"{this.get('model')} {this.get('sampler')}, {this.get('steps')} steps − "
          f"{other.get('model')} {other.get('sampler')}, {other.get('steps')} steps: "
          f"{this['set']} at {this['size']}², {this['seeds']} seed(s)")
    for key, r in result["other"].items():
        if isinstance(r, dict) and "difference" in r:
            se = "—" if r["standard_error"] is None else f"{100 * r['standard_error']:.1f}"
            print(f"  {key:20s} {100 * r['difference']:+5.1f} ± {se} points  (only this {r['only_this']}, "
                  f"only the other {r['only_other']}, n {r['n']})")
    return result


if __name__ == "__main__":
    main()
