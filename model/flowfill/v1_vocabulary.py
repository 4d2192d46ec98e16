"""v1 scored the way a restricted-vocabulary v2 is: v1's images of the v1_emoji prompts (its shipped
sampler, seed 101, 256²) judged by a v2 state's classifier over every subject and among the subjects of
each --train-subjects choice (evaluate.score's subject_top1_vocab). The v1 row of model/README.md's
"Where the subjects stand" table (n = 200, one seed, CPU, ~10 min on 2 cores):

  cd model && python3 -m flowfill.v1_vocabulary <resume state folder> [--n 200] [--device cpu]

Needs .cache/data and .cache/v1/v1-fp16.npz (python3 -m flowfill.v1 pack ../models/v1 .cache/v1/v1-fp16.npz).
"""
import argparse
import json

import torch

from . import resume
from .data import FlowfillData
from .evaluate import mean_scores, run_generation, score
from .run import TRAIN_SUBJECTS, train_subject_ids
from .v1 import load_pipeline


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", help="a v2 resume state folder (its classifier judges)")
    ap.add_argument("--n", type=int, default=200, help="how many v1_emoji prompts (default all 200)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--v1", default=".cache/v1/v1-fp16.npz")
    a = ap.parse_args(argv)
    data = FlowfillData(".cache/data", a.device)
    # Only the judge: resume.load would also rebuild the DiT, text encoder and VAE from the package's
    # graphs and check them with onnxruntime.
    clf = resume.load_classifier(a.state, a.device)
    pipe, _, rec = load_pipeline(a.v1, a.device)
    prompts = data.eval_sets["v1_emoji"][: a.n]
    images = run_generation(pipe, prompts, 256, 256, steps=20, guidance=rec["guidance"], shift=rec["shift"], seed=101, batch=50)
    out = {name: mean_scores(score(data, clf, images, prompts, train_subject_ids(data, name))) for name in TRAIN_SUBJECTS if name != "all"}
    print(json.dumps({"n": len(prompts), "sampler": {"guidance": rec["guidance"], "shift": rec["shift"]}, **out}, indent=1))


if __name__ == "__main__":
    main()
