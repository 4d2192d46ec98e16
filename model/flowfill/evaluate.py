"""Evaluation of the trained model with the independent classifier (classifier.py).

Measures (numbers go to model/README.md):
- subject top-1 / top-5 and style accuracy on held-out (subject, style, colour) prompts and, for
  comparison, on seen combinations;
- background colour accuracy: median colour of a 3-pixel border, nearest named colour == requested;
- aspect ratios 1:2, 2:3, 1:1, 16:9, 2:1: a sample counts as "whole, centred, single" when the
  foreground (pixels far from the border colour, closed with a 5x5 kernel) has exactly one large
  component (>1.5 % of the image), whose box stays 2 px clear of every edge and whose centre is
  within 15 % of the image centre on each axis.
"""
import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

from .classifier import central_square
from .data import EmojiData, bucket_size
from .sampling import generate

ASPECTS = {"1:2": 0.5, "2:3": 2 / 3, "1:1": 1.0, "16:9": 16 / 9, "2:1": 2.0}


def prompts_for(data: EmojiData, triples):
    return [data.caption(s, st, c, c, np.random.default_rng(0), full=True) for s, st, c in triples]


def seen_triples(data: EmojiData, n: int, seed: int = 5):
    rng = np.random.default_rng(seed)
    held = set(data.held_out_triples)
    out = []
    while len(out) < n:
        t = (int(rng.integers(data.num_subjects)), int(rng.integers(len(data.styles))), int(rng.integers(len(data.colour_names))))
        if t not in held:
            out.append(t)
    return out


def border_colour(images01: torch.Tensor) -> torch.Tensor:
    """Median RGB of a 3-px border, [B,3] in 0..1."""
    b = images01.shape[0]
    top, bottom = images01[..., :3, :].reshape(b, 3, -1), images01[..., -3:, :].reshape(b, 3, -1)
    left, right = images01[..., :, :3].reshape(b, 3, -1), images01[..., :, -3:].reshape(b, 3, -1)
    return torch.cat([top, bottom, left, right], dim=2).median(dim=2).values


def nearest_colour(data: EmojiData, rgb01: torch.Tensor) -> torch.Tensor:
    return torch.cdist(rgb01.float(), data.colours.float()).argmin(dim=1)


def layout_check(image01: np.ndarray, border: np.ndarray) -> dict:
    """image01 [3,H,W]; see module docstring."""
    h, w = image01.shape[1:]
    diff = np.abs(image01 - border[:, None, None]).max(axis=0)
    mask = ndimage.binary_closing(diff > 0.16, structure=np.ones((5, 5)))
    labels, n = ndimage.label(mask)
    sizes = ndimage.sum(mask, labels, range(1, n + 1)) if n else np.array([])
    large = [i + 1 for i, s in enumerate(sizes) if s > 0.015 * h * w]
    if len(large) != 1:
        return {"single": False, "whole": False, "centred": False, "components": len(large)}
    ys, xs = np.nonzero(labels == large[0])
    whole = ys.min() >= 2 and xs.min() >= 2 and ys.max() <= h - 3 and xs.max() <= w - 3
    cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
    centred = abs(cy - h / 2) <= 0.15 * h and abs(cx - w / 2) <= 0.15 * w
    return {"single": True, "whole": bool(whole), "centred": bool(centred), "components": 1}


@torch.no_grad()
def score(data, clf, images, triples):
    x01 = (images + 1) / 2
    ls, lst = clf(central_square(images))
    subj = torch.tensor([t[0] for t in triples], device=images.device)
    sty = torch.tensor([t[1] for t in triples], device=images.device)
    col = torch.tensor([t[2] for t in triples], device=images.device)
    top5 = ls.topk(5, dim=1).indices
    bc = border_colour(x01)
    return {
        "subject_top1": (top5[:, 0] == subj).float().tolist(),
        "subject_top5": (top5 == subj[:, None]).any(1).float().tolist(),
        "style": (lst.argmax(1) == sty).float().tolist(),
        "colour": (nearest_colour(data, bc) == col).float().tolist(),
        "border": bc.cpu().numpy(),
    }


def _mean(d):
    return {k: float(np.mean(v)) for k, v in d.items() if k != "border"}


def run_generation(data, te, dit, vae, prompts, h, w, *, steps, guidance, shift, stats, max_seq, seed, batch=100):
    out = []
    uncond = data.tokenize([""])
    for i in range(0, len(prompts), batch):
        ids = data.tokenize(prompts[i : i + batch])
        gen = torch.Generator(device=data.device).manual_seed(seed + i)
        out.append(generate(dit, te, vae.decode, ids, uncond, h, w, steps=steps, guidance=guidance, shift=shift,
                            scaling_factor=stats["scaling_factor"], shift_factor=stats["shift_factor"],
                            max_sequence_length=max_seq, generator=gen))
    return torch.cat(out)


def evaluate(data: EmojiData, te, dit, vae, clf, stats, max_seq, log=print, steps=20, quick=False):
    held = data.held_out_triples
    seen = seen_triples(data, len(held))
    report = {"steps": steps, "held_out_prompts": len(held), "seen_prompts": len(seen)}
    # Choose the scheduler shift and a default guidance on a subset of held-out prompts.
    sub = held[:: 2] if not quick else held[:8]
    grid = {}
    for shift in (1.0, 2.0, 3.0):
        for guidance in (3.0, 5.0):
            imgs = run_generation(data, te, dit, vae, prompts_for(data, sub), 256, 256, steps=steps, guidance=guidance,
                                  shift=shift, stats=stats, max_seq=max_seq, seed=11)
            m = _mean(score(data, clf, imgs, sub))
            grid[f"shift{shift}_cfg{guidance}"] = m
            log(f"eval shift {shift} cfg {guidance}: {m}")
    best = max(grid, key=lambda k: grid[k]["subject_top1"] + 0.5 * grid[k]["colour"] + 0.25 * grid[k]["style"])
    shift = float(best.split("_")[0][5:])
    guidance = float(best.split("_")[1][3:])
    report["selection"] = {"grid": grid, "chosen": {"shift": shift, "guidance": guidance}}
    samples = {}
    for name, triples in (("held_out", held), ("seen", seen)):
        if quick:
            triples = triples[:8]
        imgs = run_generation(data, te, dit, vae, prompts_for(data, triples), 256, 256, steps=steps, guidance=guidance,
                              shift=shift, stats=stats, max_seq=max_seq, seed=101)
        report[name] = _mean(score(data, clf, imgs, triples))
        samples[name] = imgs[:24]
        log(f"eval {name}: {report[name]}")
    aspects = {}
    aspect_imgs = []
    triples = held[:40] if not quick else held[:4]
    for label, r in ASPECTS.items():
        h, w = bucket_size(r)
        imgs = run_generation(data, te, dit, vae, prompts_for(data, triples), h, w, steps=steps, guidance=guidance,
                              shift=shift, stats=stats, max_seq=max_seq, seed=202)
        s = score(data, clf, imgs, triples)
        checks = [layout_check(((im + 1) / 2).float().cpu().numpy(), s["border"][i]) for i, im in enumerate(imgs)]
        aspects[label] = {
            "size": [w, h],
            "whole_centred_single": float(np.mean([c["single"] and c["whole"] and c["centred"] for c in checks])),
            "single": float(np.mean([c["single"] for c in checks])),
            **_mean(s),
        }
        aspect_imgs.append(imgs[:6])
        log(f"eval aspect {label} {w}x{h}: {aspects[label]}")
    report["aspects"] = aspects
    report["prompts_example"] = prompts_for(data, held[:24])
    return report, samples, aspect_imgs


def save_grid(path, images: torch.Tensor, cols: int):
    from PIL import Image

    x = ((images.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    n, h, w, _ = x.shape
    rows = (n + cols - 1) // cols
    canvas = np.full((rows * h, cols * w, 3), 255, np.uint8)
    for i in range(n):
        canvas[(i // cols) * h : (i // cols + 1) * h, (i % cols) * w : (i % cols + 1) * w] = x[i]
    Image.fromarray(canvas).save(path)


def save_aspect_strip(path, groups: list[torch.Tensor]):
    """One row per aspect ratio, images letterboxed into cells of the largest size."""
    from PIL import Image

    H = max(g.shape[2] for g in groups)
    W = max(g.shape[3] for g in groups)
    cols = max(g.shape[0] for g in groups)
    canvas = np.full((len(groups) * (H + 4), cols * (W + 4), 3), 255, np.uint8)
    for r, g in enumerate(groups):
        x = ((g.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        for c in range(x.shape[0]):
            h, w = x.shape[1:3]
            y0, x0 = r * (H + 4) + (H - h) // 2, c * (W + 4) + (W - w) // 2
            canvas[y0 : y0 + h, x0 : x0 + w] = x[c]
    Image.fromarray(canvas).save(path)
