"""The evaluation's 64-cell grid at 512² (run.py's grid-512-*.png) for any state, at its recommended sampler, without
the rest of an evaluation: the issue's "no visible grid or stray glyph in a 64-image grid at 512 px", shown for the
model that ships. The same prompts and seed as the evaluation's (held-out v1_emoji and icons captions, interleaved).

  cd model && python3 -m flowfill.grid_512 <state> <out folder> [--n 64] [--int8-products] [--device cpu]
"""
import argparse
import json
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from . import resume
from .data import FlowfillData
from .evaluate import grid_512
from .int8_products import dynamic_int8_products
from .sampling import guided


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("state", help="a state folder (package/ + extras.json + classifier.npz)")
    ap.add_argument("out", help="the folder the grids are written to")
    ap.add_argument("--n", type=int, default=64, help="how many images (default 64, as the evaluation)")
    ap.add_argument("--int8-products", action="store_true", help="draw with WASM's int8 products (flowfill.int8_products)")
    ap.add_argument("--data", default=".cache/data")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    data = FlowfillData(a.data, a.device)
    state = resume.load(a.state, data, a.device, log=lambda *m: None)
    recommended = json.loads((Path(a.state) / "package" / "flowfill.json").read_text())["recommended"]
    sampling = {k: recommended[k] for k in ("steps", "guidance", "shift")}
    pipe = resume.pipeline(state, data)
    Path(a.out).mkdir(parents=True, exist_ok=True)
    t = time.time()
    with dynamic_int8_products(pipe.dit, guided=guided(sampling["guidance"])) if a.int8_products else nullcontext():
        prompts = grid_512(pipe, data.eval_sets, a.out, n=a.n, **sampling)
    (Path(a.out) / "grid-512-prompts.json").write_text(json.dumps({"sampling": sampling, "int8_products": a.int8_products,
                                                                   "prompts": prompts}, indent=1) + "\n")
    print(f"wrote {a.out}/grid-512-*.png: {len(prompts)} images at 512², {sampling}, in {time.time() - t:.0f}s")


if __name__ == "__main__":
    main()
