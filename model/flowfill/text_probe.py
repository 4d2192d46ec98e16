"""Does the text encoder keep subjects apart? Subject retrieval across two wordings.

    cd model && python3 -m flowfill.text_probe [model/eval/v2-candidate]

Every subject is captioned twice; within a caption set the template, style choice, colour and
background are the same for every subject, and the two sets differ in all of them. For each
subject, the nearest of all subjects' second captions to its first (cosine, features centred per
set) should be its own. Printed for the pooled vector (the DiT's AdaLN input) and for the mean of the
per-token penultimate states (its attention input), split by emoji and icons. A subject the text
encoder cannot tell apart across wordings is one the DiT cannot be asked for reliably.
"""
import argparse
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from . import resume
from .data import FlowfillData
from .text_encoder import CLIPTextModelWithProjection


def caption_sets(data: FlowfillData) -> tuple[list[str], list[str]]:
    sets = ([], [])
    for i, s in enumerate(data.subjects):
        style = int(sorted(s["sprites"], key=int)[0])
        pool = data.templates["icon" if s["kind"] == "icon" else "emoji"]
        for k, (template, colour, background) in enumerate(((pool[0], 3, 10), (pool[-1], 20, 30))):
            sets[k].append(data.caption(i, style, colour, background, background, None, template=template, name_index=0))
    return sets


@torch.no_grad()
def features(te, data: FlowfillData, captions: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    pooled_all, tokens_all = [], []
    for k in range(0, len(captions), 256):
        ids = data.tokenize(captions[k:k + 256])
        pooled, _, hidden = te(ids)
        mask = (ids != 0).float()[..., None]
        pooled_all.append(pooled)
        tokens_all.append((hidden[-2] * mask).sum(1) / mask.sum(1))
    return torch.cat(pooled_all), torch.cat(tokens_all)


def retrieval(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a = F.normalize(a - a.mean(0), dim=1)
    b = F.normalize(b - b.mean(0), dim=1)
    return (a @ b.T).argmax(1) == torch.arange(len(a))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("state", nargs="?", default="eval/v2-candidate", help="a resume folder (package/ + extras.json)")
    p.add_argument("--data", default=".cache/data")
    p.add_argument("--seed", type=int, default=0, help="seed of the untrained encoder printed beside it")
    a = p.parse_args(argv)
    data = FlowfillData(a.data, device="cpu")
    trained = resume.load(Path(a.state), data, "cpu", accept_data_change=True)["te"].eval()
    torch.manual_seed(a.seed)
    # The same architecture untrained: what the words alone keep apart before any training.
    untrained = CLIPTextModelWithProjection(dict(trained.config)).eval()
    first, second = caption_sets(data)
    print(f"{len(first)} subjects; e.g. {first[0]!r} / {second[0]!r}; {first[-1]!r} / {second[-1]!r}")
    icon = torch.tensor([s["kind"] == "icon" for s in data.subjects])
    for label, te in ((a.state, trained), (f"untrained (seed {a.seed})", untrained)):
        fa, fb = features(te, data, first), features(te, data, second)
        for name, k in (("pooled", 0), ("mean of penultimate tokens", 1)):
            hit = retrieval(fa[k], fb[k]).float()
            print(f"{label}, {name}: subject retrieval top-1 {hit.mean():.3f} (emoji {hit[~icon].mean():.3f}, icons {hit[icon].mean():.3f})")


if __name__ == "__main__":
    sys.exit(main())
