"""Evaluation with the independent classifier (classifier.py). Numbers go to model/README.md.

Prompt sets (model/data/build-dataset.mjs writes them into the manifest):
- v1_emoji: v1's 200 subjects, each with the (style, background colour) v1 never trained on
  (v2 never trains on them either); the only set v1 can be asked, so v1 is measured on it too;
- emoji: 200 other emoji, one unseen (style, background) each;
- icons: 200 icons (those all three icon sets draw first), one unseen (style, icon colour) each,
  on a contrasting background;
- paraphrases: 100 v1_emoji and 100 icons combinations, worded with templates never trained on
  and the subject's synonym where it has one;
- seen: 200 combinations that do occur in training, of the subjects the DiT trains on (control; also
  where the sampler's shift and guidance are chosen, so the held-out numbers carry no selection bias).

Measures per set and size: subject top-1 / top-5 and style accuracy (classifier over every subject
and style), background colour (median colour of the 3-px border, nearest named colour == requested),
icon colour (median of the pixels far from the background, nearest named colour == requested),
and the Fréchet distance between the classifier's 256-d features of generated images and of real
renders of the same prompts (data recipe, random placement). Aspect ratios 1:4 … 4:1 at the native
area get the layout check: the foreground (pixels far from the border colour, closed with a 5x5
kernel) must be one component larger than 1.5 % of the image, 2 px clear of every edge and centred
within 15 % on both axes.
"""
import math
from pathlib import Path

import numpy as np
import torch
from scipy import linalg, ndimage

from .crispness import blur_effect
from .data import FlowfillData, bucket_size
from .sampling import Pipeline, generate

ASPECTS = {"1:4": 0.25, "9:16": 9 / 16, "1:1": 1.0, "16:9": 16 / 9, "4:1": 4.0}
FG_THRESHOLD = 0.25


def seen_prompts(data: FlowfillData, n: int = 200, seed: int = 5, subjects: list[int] | None = None) -> list[dict]:
    """Combinations training draws (held-out ones excluded); with `subjects` (--train-subjects), only
    theirs, so that the control and the sampler's selection measure subjects the DiT trains on."""
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    cond = data.draw_conditions(n, gen, weights=None if subjects is None else data.pair_weights_for(subjects))
    s, st, c, b1, _ = cond.to_lists()
    out = []
    for i in range(n):
        kind = data.subjects[s[i]]["kind"]
        template = data.templates[kind][0]
        text = data.caption(s[i], st[i], c[i], b1[i], b1[i], rng, template=template, name_index=0)
        out.append({"subject": s[i], "style": st[i], "colour": None if c[i] < 0 else c[i], "background": b1[i], "text": text})
    return out


def border_colour(images01: torch.Tensor) -> torch.Tensor:
    """Median RGB of a 3-px border, [B,3] in 0..1."""
    b = images01.shape[0]
    top, bottom = images01[..., :3, :].reshape(b, 3, -1), images01[..., -3:, :].reshape(b, 3, -1)
    left, right = images01[..., :, :3].reshape(b, 3, -1), images01[..., :, -3:].reshape(b, 3, -1)
    return torch.cat([top, bottom, left, right], dim=2).median(dim=2).values


def foreground_colour(images01: torch.Tensor, border: torch.Tensor) -> torch.Tensor:
    """Median RGB of the pixels far (> 0.25 in some channel) from the border colour, [B,3]."""
    out = []
    for img, bc in zip(images01, border):
        far = (img - bc[:, None, None]).abs().amax(0) > FG_THRESHOLD
        px = img[:, far]
        out.append(px.median(dim=1).values if px.shape[1] > 0 else bc)
    return torch.stack(out)


def nearest_colour(data: FlowfillData, rgb01: torch.Tensor) -> torch.Tensor:
    return torch.cdist(rgb01.float(), data.colours.float()).argmin(dim=1)


def layout_check(image01: np.ndarray, border: np.ndarray) -> dict:
    """image01 [3,H,W]; see the module docstring."""
    h, w = image01.shape[1:]
    diff = np.abs(image01 - border[:, None, None]).max(axis=0)
    mask = ndimage.binary_closing(diff > 0.16, structure=np.ones((5, 5)))
    labels, n = ndimage.label(mask)
    sizes = ndimage.sum(mask, labels, range(1, n + 1)) if n else np.array([])
    large = [i + 1 for i, s in enumerate(sizes) if s > 0.015 * h * w]
    if len(large) != 1:
        return {"single": False, "whole": False, "centred": False}
    ys, xs = np.nonzero(labels == large[0])
    whole = ys.min() >= 2 and xs.min() >= 2 and ys.max() <= h - 3 and xs.max() <= w - 3
    cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
    centred = abs(cy - h / 2) <= 0.15 * h and abs(cx - w / 2) <= 0.15 * w
    return {"single": True, "whole": bool(whole), "centred": bool(centred)}


def among(subject_logits: torch.Tensor, vocabulary: list[int] | None) -> torch.Tensor:
    """The logits with every subject outside `vocabulary` ruled out (-inf): the judge choosing among those only.
    None is every subject (train_subject_ids' "all"): the logits as they are."""
    if vocabulary is None:
        return subject_logits
    allowed = torch.full_like(subject_logits, float("-inf"))
    allowed[:, torch.tensor(vocabulary, device=subject_logits.device)] = 0
    return subject_logits + allowed


@torch.no_grad()
def score(data: FlowfillData, clf, images: torch.Tensor, prompts: list[dict], vocabulary: list[int] | None = None) -> dict:
    """Per-image 0/1 lists; icon_colour only over icon prompts. With `vocabulary` (the subject ids the
    model trains on) also subject_top1_vocab / _top5_vocab: the classifier's choice among those subjects
    only, the measure for a model whose vocabulary is a subset (v1's own classifier knew only its 200)."""
    x01 = (images + 1) / 2
    ls, lst = clf(clf.crop(images))
    dev = images.device
    subj = torch.tensor([p["subject"] for p in prompts], device=dev)
    sty = torch.tensor([p["style"] for p in prompts], device=dev)
    bg = torch.tensor([p["background"] for p in prompts], device=dev)
    top5 = ls.topk(5, dim=1).indices
    bc = border_colour(x01)
    out = {
        "subject_top1": (top5[:, 0] == subj).float().tolist(),
        "subject_top5": (top5 == subj[:, None]).any(1).float().tolist(),
        "style": (lst.argmax(1) == sty).float().tolist(),
        "background": (nearest_colour(data, bc) == bg).float().tolist(),
        "border": bc,
    }
    if vocabulary is not None:
        top5v = among(ls, vocabulary).topk(5, dim=1).indices
        out["subject_top1_vocab"] = (top5v[:, 0] == subj).float().tolist()
        out["subject_top5_vocab"] = (top5v == subj[:, None]).any(1).float().tolist()
    icon = [i for i, p in enumerate(prompts) if p.get("colour") is not None]
    if icon:
        fgc = foreground_colour(x01[icon], bc[icon])
        want = torch.tensor([prompts[i]["colour"] for i in icon], device=dev)
        out["icon_colour"] = (nearest_colour(data, fgc) == want).float().tolist()
    return out


def mean_scores(s: dict) -> dict:
    return {k: float(np.mean(v)) for k, v in s.items() if k != "border" and len(v)}


@torch.no_grad()
def embed(clf, images: torch.Tensor, batch: int = 500) -> np.ndarray:
    return torch.cat([clf.embed(clf.crop(images[i: i + batch])) for i in range(0, len(images), batch)]).double().cpu().numpy()


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """||μ1 − μ2||² + Tr(Σ1 + Σ2 − 2 (Σ1 Σ2)^½) (Heusel et al. 2017), on classifier features."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    # scipy ≥ 1.14 dropped sqrtm's `disp` argument and returns the matrix alone.
    covmean = linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        eps = np.eye(s1.shape[0]) * 1e-6
        covmean = linalg.sqrtm((s1 + eps) @ (s2 + eps))
    covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def run_generation(pipe: Pipeline, prompts: list[dict], h: int, w: int, *, steps, guidance, shift, seed, batch=100):
    out = []
    for i in range(0, len(prompts), batch):
        gen = torch.Generator(device=pipe.tokenize([""]).device).manual_seed(seed + i)
        out.append(generate(pipe, [p["text"] for p in prompts[i: i + batch]], h, w, steps=steps, guidance=guidance, shift=shift, generator=gen))
    return torch.cat(out)


def sampler_choice(own: dict, shift: float | None = None, guidance: float | None = None) -> dict:
    """The sampler a check draws with: the model's own choice (its scheduler's shift and guidance) where none is given."""
    return {"shift": own["shift"] if shift is None else shift, "guidance": own["guidance"] if guidance is None else guidance}


REAL_RENDER_SEED = 500  # real renders j = 0, 1, … of a prompt set use seed REAL_RENDER_SEED + j (the FD's real side)


@torch.no_grad()
def real_renders(data: FlowfillData, prompts: list[dict], h: int, w: int, seed: int) -> torch.Tensor:
    """Renders of the prompts by the data recipe: random placement and, where several icon sets draw
    the subject in that style, a random one of their drawings."""
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    return torch.cat([data.compose(data.conditions_for(prompts[i: i + 200], rng), h, w, gen) for i in range(0, len(prompts), 200)])


def selection_score(m: dict, top1: str = "subject_top1") -> float:
    """What the sampler search maximises on `seen`: top-1 + 0.5·background + 0.25·style (+ 0.25·icon colour)."""
    return m[top1] + 0.5 * m["background"] + 0.25 * m["style"] + 0.25 * m.get("icon_colour", 0)


def seed_draws(pipe, data, clf, prompts, size, seeds, *, steps, guidance, shift, vocabulary=None, aspect: float = 1.0,
               layout: bool = False):
    """Per seed: its images of `prompts` at size² (or that area at width/height `aspect`), their per-image 0/1 results
    (as `score`, less the borders; with `layout` also the layout check's and each image's blur effect) and the judge's
    features of them for the FD.
    Both the sampler search and the held-out sets draw so."""
    h, w = bucket_size(aspect, size)
    for seed in seeds:
        imgs = run_generation(pipe, prompts, h, w, steps=steps, guidance=guidance, shift=shift, seed=seed)
        s = score(data, clf, imgs, prompts, vocabulary)
        results = {k: v for k, v in s.items() if k != "border"}
        if layout:
            results.update(layout_results(imgs, s["border"]))
            results.update(blur_results(imgs))
        yield imgs, results, embed(clf, imgs)


def layout_results(images: torch.Tensor, border: torch.Tensor) -> dict:
    """Per-image 0/1 lists of the layout check (the module's doc): one subject, whole and centred; one subject."""
    # One transfer for the batch: every sampler_check runs this on the GPU's images.
    images01, borders = ((images + 1) / 2).float().cpu().numpy(), border.cpu().numpy()
    checks = [layout_check(im, b) for im, b in zip(images01, borders)]
    return {"whole_centred_single": [float(c["single"] and c["whole"] and c["centred"]) for c in checks],
            "single": [float(c["single"]) for c in checks]}


def blur_results(images: torch.Tensor) -> dict:
    """Each image's blur effect (flowfill.crispness, 0 sharp … 1 blurred; since session 46), as the image is shown:
    clipped to its displayable range. Its own copy of the batch to the CPU is small beside the measure's CPU time."""
    return {"blur_effect": [blur_effect(im) for im in ((images + 1) / 2).clamp(0, 1).float().cpu().numpy()]}


def extend_results(results: dict, more: dict):
    for k, v in more.items():
        results[k] = results.get(k, []) + v


def real_render_set(data, prompts, size, seed_indices, aspect: float = 1.0) -> torch.Tensor:
    """Renders j = 0, 1, … of the prompts (REAL_RENDER_SEED + j), one per generated seed, at size²'s area and `aspect`."""
    h, w = bucket_size(aspect, size)
    return torch.cat([real_renders(data, prompts, h, w, seed=REAL_RENDER_SEED + j) for j in seed_indices])


def real_features(data, clf, prompts, size, seed_indices) -> np.ndarray:
    """The FD's real side at size²: the judge's features of real_render_set."""
    return embed(clf, real_render_set(data, prompts, size, seed_indices))


def real_layout(renders: torch.Tensor) -> dict:
    """The layout check's rates on the data's own renders (real_render_set), whole and centred by construction: the
    most a drawing of the same prompts can score by the check. Below 1 where the check misreads a subject drawn whole:
    an icon of several separate parts, or a thin outline under the check's area floor (session 41: the icons' renders
    pass 76 % at 1:1 and 62–67 % at 4:1 and 1:4, v1_emoji's 94–97 % at every shape). Its blur_effect is the renders'
    own: how sharp the data's edges read by the same measure, the mark a model's images are read against."""
    return mean_scores({**layout_results(renders, border_colour((renders + 1) / 2)), **blur_results(renders)})


def pick_sampler(grid: dict, n: int, top1: str = "subject_top1", per_image: dict | None = None) -> str:
    """The grid point of lowest FD among those whose score is within one standard error of the best: a lead
    smaller than that is the seed's noise, and higher guidance buys its leads with a dearer FD (slice 29's guidance 3,
    chosen by score alone: held-out FD 101, where guidance 2 had 62 at 2,800 steps fewer; its lead was wider than one
    SE, so this rule would have kept it). The SE is the binomial one of the best point's top-1 over n images, or with
    `per_image` (each point's 0/1 top-1 over the same prompts and seeds) that of the per-image differences from the
    best: the same prompts and noise on both sides take out the prompts' own spread, which the binomial SE keeps.
    At 200 images the binomial SE (~3 points) tied every shift of slice 51, and the FD chose shift 1, which draws
    icons 4.9 ± 1.3 points less often than shift 6 over 1,000 images paired (session 38). Without FDs: the best
    score."""
    scores = {k: selection_score(m, top1) for k, m in grid.items()}
    best = max(scores, key=scores.get)
    if per_image is not None:
        lead = {k: np.asarray(per_image[best], float) - np.asarray(per_image[k], float) for k in grid}
        se = {k: float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.inf for k, d in lead.items()}
    else:
        p = grid[best][top1]
        se = dict.fromkeys(grid, math.sqrt(p * (1 - p) / n))
    tied = [k for k in grid if scores[k] >= scores[best] - se[k]]
    return min(tied, key=lambda k: (grid[k].get("frechet_distance", math.inf), -scores[k]))


# The sampler shifts the evaluation chooses among (and a distilling student's trajectory pool covers: on_policy.py).
SAMPLER_SHIFTS = (1.0, 2.0, 3.0, 4.0, 6.0)


# The selection's images: a grid of this many points draws one image a prompt, a smaller one more (a student's five
# shifts at guidance 1 draw five), so every search costs about what the teachers' 25-point search did.
SELECTION_IMAGES_PER_PROMPT = 25


def selection_seeds(points: int) -> int:
    return max(1, SELECTION_IMAGES_PER_PROMPT // max(points, 1))


def choose_scheduler(pipe, data, clf, prompts, steps, log, shifts=SAMPLER_SHIFTS, guidances=(1.5, 2.0, 3.0, 4.0, 5.0),
                     vocabulary: list[int] | None = None, seeds: int | None = None):
    """Shift × guidance on seen prompts at 256², `seeds` images a prompt (seed 11, then + 7919 each; by default
    `selection_seeds` of the grid's size), scored and FD'd against their real renders, chosen by `pick_sampler` with
    the paired standard error of each point's top-1 against the best's over the same images; top-1 among `vocabulary`
    when the DiT trains on a subset (the measure the held-out sets report). Guidance 1.5 replaced 6 after slice 23 chose 2, the grid's edge, while 6 scored last
    at every shift."""
    seeds = selection_seeds(len(shifts) * len(guidances)) if seeds is None else seeds
    top1 = "subject_top1" if vocabulary is None else "subject_top1_vocab"
    real = real_features(data, clf, prompts, 256, range(seeds))
    grid, per_image = {}, {}
    for shift in shifts:
        for g in guidances:
            s, feats = {}, []
            for _, results, f in seed_draws(pipe, data, clf, prompts, 256, [11 + 7919 * j for j in range(seeds)], steps=steps,
                                            guidance=g, shift=shift, vocabulary=vocabulary):
                extend_results(s, results)
                feats.append(f)
            m = mean_scores(s)
            m["frechet_distance"] = frechet_distance(np.concatenate(feats), real)
            m["n"] = len(prompts) * seeds
            key = f"shift{shift}_cfg{g}"
            grid[key], per_image[key] = m, s[top1]
            log(f"eval select shift {shift} guidance {g}: {m}")
    best = pick_sampler(grid, len(prompts) * seeds, top1, per_image)
    shift, g = float(best.split("_")[0][5:]), float(best.split("_")[1][3:])
    return {"shift": shift, "guidance": g}, grid


def evaluate_sets(pipe, data, clf, sets: dict, sizes, *, steps, guidance, shift, log, fd_seeds: int = 1, keep=24,
                  vocabulary: list[int] | None = None, per_image: bool = False, seed_index: int = 0, aspect: float = 1.0,
                  layout: bool = False):
    """Scores every set at every size; FD against real renders (fd_seeds generations per prompt). per_image adds
    each image's 0/1 results, seed by seed, so two models scored on the same seeds compare pairwise. seed_index
    starts at a later seed of the same sequence: from 5 on, seeds no evaluation or check has drawn. `aspect` draws
    each size's area at that width/height (the report keeps the size's name); `layout` adds the layout check and the blur
    effect, and both on the data's own renders of the same prompts (layout_of_real_renders, what a drawing can score)."""
    report, samples = {}, {}
    seed_indices = range(seed_index, seed_index + fd_seeds)
    for size in sizes:
        for name, prompts in sets.items():
            # The rates count every image the FD counts, so "n" is true of both; "first_seed" is the first seed's
            # rates alone, the only measure before session 26, kept so older reports stay comparable.
            s, f_gen = {}, []
            draws = seed_draws(pipe, data, clf, prompts, size, [101 + 7919 * j for j in seed_indices], steps=steps,
                               guidance=guidance, shift=shift, vocabulary=vocabulary, aspect=aspect, layout=layout)
            for j, (more, results, f) in zip(seed_indices, draws):
                extend_results(s, results)
                f_gen.append(f)
                if j == seed_index:
                    imgs, first = more, mean_scores(s)
            r = mean_scores(s)
            if fd_seeds > 1:
                r["first_seed"] = first
            if per_image:
                r["per_image"] = s
            renders = real_render_set(data, prompts, size, seed_indices, aspect)
            r["frechet_distance"] = frechet_distance(np.concatenate(f_gen), embed(clf, renders))
            r["n"] = len(prompts) * fd_seeds
            if layout:
                r["layout_of_real_renders"] = real_layout(renders)
            report[f"{name}@{size}"] = r
            samples[f"{name}@{size}"] = imgs[:keep]
            log(f"eval {name} at {size}²: {r}")
    return report, samples


def held_out_sets(pipe, data, clf, sets: dict, seen: list[dict], *, steps, guidance, shift, log, fd_seeds: int = 5,
                  vocabulary: list[int] | None = None):
    """The full evaluation's sets at one sampler: v1_emoji at 256² with fd_seeds images a prompt, the other
    held-out sets and the seen control at 256², and the held-out sets again at 512²."""
    kw = dict(steps=steps, guidance=guidance, shift=shift, log=log, vocabulary=vocabulary)
    res, samples = evaluate_sets(pipe, data, clf, {"v1_emoji": sets["v1_emoji"]}, (256,), fd_seeds=fd_seeds, **kw)
    others = {k: sets[k] for k in ("emoji", "icons", "paraphrases")}
    for more, sizes in (({**others, "seen": seen}, (256,)), ({"v1_emoji": sets["v1_emoji"], **others}, (512,))):
        r, s = evaluate_sets(pipe, data, clf, more, sizes, **kw)
        res.update(r)
        samples.update(s)
    return res, samples


def evaluate_aspects(pipe, data, clf, prompts, native, *, steps, guidance, shift, log, vocabulary: list[int] | None = None):
    out, strips = {}, []
    for label, r in ASPECTS.items():
        h, w = bucket_size(r, native)
        imgs = run_generation(pipe, prompts, h, w, steps=steps, guidance=guidance, shift=shift, seed=202)
        s = score(data, clf, imgs, prompts, vocabulary)
        out[label] = {"size": [w, h], **mean_scores(layout_results(imgs, s["border"])), **mean_scores(s)}
        strips.append(imgs[:6])
        log(f"eval aspect {label} {w}x{h}: {out[label]}")
    return out, strips


# ------------------------------------------------------------------------------------------------
# Images

def to_uint8(images: torch.Tensor) -> np.ndarray:
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def emoji_and_icons(sets: dict) -> list[dict]:
    """v1_emoji's and icons' held-out prompts, alternating: the 512² grid's and the aspect rows' prompts."""
    return [p for pair in zip(sets["v1_emoji"], sets["icons"]) for p in pair]


def grid_512(pipe: Pipeline, sets: dict, out_dir, n: int = 64, *, steps, guidance, shift) -> list[str]:
    """The evaluation's grid at 512²: the first n of v1_emoji and icons, interleaved, from seed 909, written to out_dir as
    grid-512-<q>.png (16 a file, full size) and grid-512-small.png (all, half size, 8 a row). Returns their prompts."""
    mixed = emoji_and_icons(sets)[:n]
    images = run_generation(pipe, mixed, 512, 512, seed=909, steps=steps, guidance=guidance, shift=shift)
    for q in range(0, len(images), 16):
        save_grid(Path(out_dir) / f"grid-512-{q // 16}.png", images[q: q + 16], 4, gap=4)
    half = torch.nn.functional.interpolate(images, scale_factor=0.5, mode="bilinear", antialias=True)
    save_grid(Path(out_dir) / "grid-512-small.png", half, 8, gap=2)
    return [p["text"] for p in mixed]


def save_grid(path, images: torch.Tensor, cols: int, gap: int = 0):
    from PIL import Image

    x = to_uint8(images)
    n, h, w, _ = x.shape
    rows = (n + cols - 1) // cols
    canvas = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap, 3), 255, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = x[i]
    Image.fromarray(canvas).save(path, optimize=True)


def save_aspect_strip(path, groups: list[torch.Tensor], cell: int = 256):
    """One row per aspect ratio, each image scaled to fit a cell×cell box (2x smaller for 512-area
    images), letterboxed on grey."""
    import torch.nn.functional as F
    from PIL import Image

    cols = max(g.shape[0] for g in groups)
    canvas = np.full((len(groups) * (cell + 4), cols * (cell + 4), 3), 200, np.uint8)
    for r, g in enumerate(groups):
        h, w = g.shape[2:]
        f = min(cell / h, cell / w)
        small = F.interpolate(g.float(), size=(max(1, round(h * f)), max(1, round(w * f))), mode="bilinear", antialias=True, align_corners=False)
        x = to_uint8(small)
        for c in range(x.shape[0]):
            hh, ww = x.shape[1:3]
            y0, x0 = r * (cell + 4) + (cell - hh) // 2, c * (cell + 4) + (cell - ww) // 2
            canvas[y0: y0 + hh, x0: x0 + ww] = x[c]
    Image.fromarray(canvas).save(path, optimize=True)
