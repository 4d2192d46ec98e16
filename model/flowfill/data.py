"""Training data composed on the GPU: sprites on backgrounds, with captions.

The Node builder (model/data/build-dataset.mjs) rasterises every sprite once: emoji as premultiplied
RGBA atlases, icons as signed-distance fields. Here each image is composed fresh (background,
colours, scale, position, aspect ratio), so augmentation is unlimited and only ~25 MB of sprites
travel to the GPU machine.

Recipe (the same for training, the classifier and the evaluation's real renders):
- background: one named colour, or (30 %) a two-colour linear gradient at a random angle;
- the subject's side is 45-80 % of the image's short side, its centre jittered by ±6 % of each side;
- emoji are resampled from the sprite (bicubic when enlarged; from a 2x box-filtered copy when
  shrunk below 0.6x, so small renders are antialiased rather than aliased);
- icons are drawn from their distance field: alpha = clamp(distance in output pixels + 0.5), which
  gives a one-pixel antialiased edge at every scale, in the icon's colour (never one too close to
  the background: RGB distance > 110).

Held-out (subject, style, colour) triples never appear: for emoji the colour is the background's
(also inside a gradient), for icons the icon's own colour (tests/test_data.py).
"""
import gzip
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .tokenizer import CaptionTokenizer

MIP_THRESHOLD = 0.6  # below this scale an emoji is sampled from the 2x box-filtered copy
FG_CONTRAST = 110.0  # minimum RGB distance between an icon's colour and its background
ICON_SHARE = 0.5  # the icons' share of the training images unless run.py --icon-share says otherwise


def bucket_size(aspect: float, native: int, multiple: int = 16) -> tuple[int, int]:
    """(height, width) with width/height ≈ aspect, area ≈ native², sides multiples of 16."""
    width = max(multiple, round(native * math.sqrt(aspect) / multiple) * multiple)
    height = max(multiple, round(native / math.sqrt(aspect) / multiple) * multiple)
    return height, width


@dataclass
class Conditions:
    subject: torch.Tensor  # [B] long
    style: torch.Tensor  # [B] long
    sprite: torch.Tensor  # [B] long, row of the sprite table
    colour: torch.Tensor  # [B] long: icon colour (icons) / -1 (emoji)
    bg1: torch.Tensor  # [B] long, background colour
    bg2: torch.Tensor  # [B] long, second gradient colour (== bg1 for solid backgrounds)

    def to_lists(self):
        return [x.tolist() for x in (self.subject, self.style, self.colour, self.bg1, self.bg2)]


def _read_atlas(path: Path, info: dict) -> np.ndarray:
    raw = np.frombuffer(bytearray(gzip.decompress(path.read_bytes())), dtype=np.uint8)
    n, s, c = info["count"], info["size"], info["channels"]
    if raw.size != n * s * s * c:
        raise ValueError(f"{path.name}: {raw.size} bytes, manifest says {n} sprites of {s}x{s}x{c}; rebuild the dataset")
    arr = raw.reshape(n, s, s, c)
    if info.get("delta"):
        arr = np.cumsum(arr, axis=2, dtype=np.uint8)  # undoes the builder's horizontal byte deltas (mod 256)
    return arr


class FlowfillData:
    def __init__(self, data_dir: str | Path, device: torch.device | str = "cuda"):
        data_dir = Path(data_dir)
        self.dir = data_dir
        self.manifest = m = json.loads((data_dir / "manifest.json").read_text())
        if m.get("format") != "flowfill-dataset/2":
            raise ValueError(f"{data_dir}/manifest.json: format {m.get('format')!r}; rebuild with `node model/data/build-dataset.mjs`")
        self.device = dev = torch.device(device)
        self.subjects = m["subjects"]
        self.styles = [s["name"] for s in m["styles"]]
        self.style_kind = [s["kind"] for s in m["styles"]]
        self.colour_names = [c["name"] for c in m["colours"]]
        self.templates = m["templates"]
        self.tokenizer = CaptionTokenizer.from_dir(data_dir)
        self.colours = torch.tensor([c["rgb"] for c in m["colours"]], dtype=torch.float32, device=dev) / 255.0
        rgb = self.colours * 255.0
        self.contrast = torch.cdist(rgb, rgb) > FG_CONTRAST  # [C, C]

        # Atlases as uint8 on the device: emoji [n, 4, S, S] premultiplied RGBA (+ a 2x box-filtered copy), icons [n, 1, 64, 64].
        self.atlas_names = list(m["atlases"])
        self.atlas, self.atlas_half = [], []
        for name in self.atlas_names:
            info = m["atlases"][name]
            arr = torch.from_numpy(_read_atlas(data_dir / info["file"], info)).permute(0, 3, 1, 2).contiguous()
            self.atlas.append(arr.to(dev))
            if info["channels"] == 4:
                half = F.avg_pool2d(arr.float(), 2).round().clamp(0, 255).to(torch.uint8)
                self.atlas_half.append(half.to(dev))
            else:
                self.atlas_half.append(None)
        self.sdf_spread = float(m["sdf"]["spread_px"])

        sprites = m["sprites"]
        atlas_id = {n: i for i, n in enumerate(self.atlas_names)}
        self.sprite_atlas = torch.tensor([atlas_id[s["atlas"]] for s in sprites], device=dev)
        self.sprite_index = torch.tensor([s["index"] for s in sprites], device=dev)
        self.sprite_subject = torch.tensor([s["subject"] for s in sprites], device=dev)
        self.sprite_style = torch.tensor([s["style"] for s in sprites], device=dev)

        n_sub, n_sty, n_col = len(self.subjects), len(self.styles), len(self.colour_names)
        self.is_icon = torch.tensor([s["kind"] == "icon" for s in self.subjects], device=dev)
        # (subject, style) pairs that have sprites, and each pair's sprite rows (padded with -1).
        pairs, rows = [], []
        for s in self.subjects:
            for st, lst in s["sprites"].items():
                pairs.append((s["id"], int(st)))
                rows.append(lst)
        width = max(len(r) for r in rows)
        self.pairs = torch.tensor(pairs, device=dev)
        self.pair_sprites = torch.tensor([r + [-1] * (width - len(r)) for r in rows], device=dev)
        self.pair_sprite_count = torch.tensor([len(r) for r in rows], device=dev)
        self.pair_weights = self.pair_weights_for()

        held = torch.zeros(n_sub, n_sty, n_col, dtype=torch.bool)
        for s, st, c in m["held_out"]["triples"]:
            held[s, st, c] = True
        self.held_out = held.to(dev)
        self.held_out_triples = [tuple(t) for t in m["held_out"]["triples"]]
        self.eval_sets = m["eval_sets"]

    # ------------------------------------------------------------------------------------------
    @property
    def num_subjects(self) -> int:
        return len(self.subjects)

    def pair_weights_for(self, subjects=None, icon_share: float = ICON_SHARE, focus=None, focus_share: float = 0.0,
                         focus_by_subject: bool = False, style_weights: dict[int, float] | None = None) -> torch.Tensor:
        """Sampling weights of the (subject, style) pairs: `icon_share` of the images icons (half by default),
        the rest emoji; uniform over subjects within a kind, then uniform over the styles a subject has. With
        `subjects` (ids), only their pairs, by the same rule (a kind none of them has gets no images). With
        `focus` (ids), `focus_share` of the images come from those subjects alone, by the same rule, and the
        rest as above: a vocabulary widened without starving the subjects it already draws. focus_by_subject
        spreads the focus share evenly over its subjects whatever their kind (a focus of 107 icons and 8 emoji
        would otherwise give each of the 8 emoji a thirteenth of the icons' images). style_weights (style id ->
        factor) leans each subject's images towards those styles, in proportion, among the styles it has: a subject
        keeps its share, and one without a weighted style is unchanged (run.py --style-weights)."""
        if focus is not None and focus_share > 0.0:
            focus_icons = (float(self.is_icon[torch.as_tensor(list(focus), dtype=torch.long, device=self.device)].float().mean())
                           if focus_by_subject else icon_share)
            return ((1.0 - focus_share) * self.pair_weights_for(subjects, icon_share, style_weights=style_weights)
                    + focus_share * self.pair_weights_for(focus, focus_icons, style_weights=style_weights))
        pair_subject = self.pairs[:, 0]
        factor = torch.ones(len(self.pairs), device=self.device)
        for style, x in (style_weights or {}).items():
            factor[self.pairs[:, 1] == style] = float(x)
        per_subject = torch.zeros(self.num_subjects, device=self.device).index_add_(0, pair_subject, factor)
        w = factor / per_subject[pair_subject]
        if subjects is not None:
            keep = torch.zeros(self.num_subjects, dtype=torch.bool, device=self.device)
            keep[torch.as_tensor(list(subjects), dtype=torch.long, device=self.device)] = True
            w = torch.where(keep[pair_subject], w, torch.zeros_like(w))
        pair_kind = self.is_icon[pair_subject]
        for kind, share in ((False, 1.0 - icon_share), (True, icon_share)):
            sel = pair_kind == kind
            total = w[sel].sum()
            w[sel] = w[sel] / total * share if total > 0 else w[sel]
        return w / w.sum()

    def draw_conditions(self, batch: int, gen: torch.Generator, exclude_held_out: bool = True,
                        weights: torch.Tensor | None = None) -> Conditions:
        """`weights`: the pairs' sampling weights (pair_weights_for); None = every subject's (pair_weights)."""
        dev = self.device
        n_col = len(self.colour_names)
        pair = torch.multinomial(self.pair_weights if weights is None else weights, batch, replacement=True, generator=gen)
        subject, style = self.pairs[pair, 0], self.pairs[pair, 1]
        k = (torch.rand(batch, generator=gen, device=dev) * self.pair_sprite_count[pair]).long()
        sprite = self.pair_sprites[pair, k]
        icon = self.is_icon[subject]
        gradient = torch.rand(batch, generator=gen, device=dev) < self.manifest["composition"]["gradient_probability"] * torch.where(icon, 0.6, 1.0)
        bg1 = torch.randint(n_col, (batch,), generator=gen, device=dev)
        bg2 = torch.where(gradient, (bg1 + torch.randint(1, n_col, (batch,), generator=gen, device=dev)) % n_col, bg1)
        colour = torch.randint(n_col, (batch,), generator=gen, device=dev)
        for _ in range(200):
            bad = torch.zeros(batch, dtype=torch.bool, device=dev)
            if exclude_held_out:
                # Emoji: the background colours; icons: the icon's colour.
                bad |= ~icon & (self.held_out[subject, style, bg1] | self.held_out[subject, style, bg2])
                bad |= icon & self.held_out[subject, style, colour]
            bad |= icon & ~(self.contrast[colour, bg1] & self.contrast[colour, bg2])
            if not bool(bad.any()):
                break
            n = int(bad.sum())
            bg1[bad] = torch.randint(n_col, (n,), generator=gen, device=dev)
            bg2[bad] = torch.where(gradient[bad], (bg1[bad] + torch.randint(1, n_col, (n,), generator=gen, device=dev)) % n_col, bg1[bad])
            colour[bad] = torch.randint(n_col, (n,), generator=gen, device=dev)
        else:
            raise RuntimeError("could not draw conditions outside the held-out set in 200 rounds")
        colour = torch.where(icon, colour, torch.full_like(colour, -1))
        return Conditions(subject, style, sprite, colour, bg1, bg2)

    def conditions_for(self, triples, rng: np.random.Generator | None = None) -> Conditions:
        """Conditions for evaluation prompts (dicts with subject, style, colour, background); the
        drawing of a (subject, style) that several icon sets draw is the first, or a random one with rng."""
        dev = self.device
        subject = torch.tensor([t["subject"] for t in triples], device=dev)
        style = torch.tensor([t["style"] for t in triples], device=dev)

        def pick(lst):
            return lst[0] if rng is None else lst[int(rng.integers(len(lst)))]

        sprite = torch.tensor([pick(self.subjects[t["subject"]]["sprites"][str(t["style"])]) for t in triples], device=dev)
        colour = torch.tensor([-1 if t["colour"] is None else t["colour"] for t in triples], device=dev)
        bg = torch.tensor([t["background"] for t in triples], device=dev)
        return Conditions(subject, style, sprite, colour, bg, bg.clone())

    # ------------------------------------------------------------------------------------------
    def compose(self, cond: Conditions, height: int, width: int, gen: torch.Generator | None = None, jitter: bool = True,
                window: tuple[int, int, int, int] | None = None) -> torch.Tensor:
        """Images [B,3,H,W] in [-1,1]; with window = (top, left, h, w), only that part of each
        H×W image (the VAE trains on crops; composing only the crop costs a fraction)."""
        dev = self.device
        b = cond.subject.shape[0]
        comp = self.manifest["composition"]
        top, left, out_h, out_w = window if window is not None else (0, 0, height, width)

        def rand(*shape):
            return torch.rand(*shape, generator=gen, device=dev)

        angle = rand(b) * 2 * math.pi
        ys = (torch.arange(top, top + out_h, device=dev, dtype=torch.float32) + 0.5) / height - 0.5
        xs = (torch.arange(left, left + out_w, device=dev, dtype=torch.float32) + 0.5) / width - 0.5
        t = 0.5 + xs[None, None, :] * torch.cos(angle)[:, None, None] + ys[None, :, None] * torch.sin(angle)[:, None, None]
        t = t.clamp(0, 1)[:, None]
        background = self.colours[cond.bg1][:, :, None, None] * (1 - t) + self.colours[cond.bg2][:, :, None, None] * t
        lo, hi = comp["subject_scale"]
        short = min(height, width)
        if jitter:
            size = short * (lo + (hi - lo) * rand(b))
            cx = width / 2 + (rand(b) - 0.5) * 2 * comp["centre_jitter"] * width
            cy = height / 2 + (rand(b) - 0.5) * 2 * comp["centre_jitter"] * height
        else:
            size = torch.full((b,), short * (lo + hi) / 2, device=dev)
            cx = torch.full((b,), width / 2, device=dev)
            cy = torch.full((b,), height / 2, device=dev)
        # Sprite coordinates in [-1, 1] (grid_sample, align_corners=False) of each output pixel centre.
        px = (torch.arange(left, left + out_w, device=dev, dtype=torch.float32) + 0.5)[None, None, :]
        py = (torch.arange(top, top + out_h, device=dev, dtype=torch.float32) + 0.5)[None, :, None]
        gx = (2 * px - 2 * cx[:, None, None]) / size[:, None, None]
        gy = (2 * py - 2 * cy[:, None, None]) / size[:, None, None]
        grid = torch.stack([gx.expand(b, out_h, out_w), gy.expand(b, out_h, out_w)], dim=-1)

        fg = torch.zeros(b, 4, out_h, out_w, device=dev)  # premultiplied RGBA
        atlas_of = self.sprite_atlas[cond.sprite]
        index_of = self.sprite_index[cond.sprite]
        for a in range(len(self.atlas_names)):
            sel_a = atlas_of == a
            if not bool(sel_a.any()):
                continue
            full, half = self.atlas[a], self.atlas_half[a]
            s = full.shape[-1]
            scale = size / s  # output pixels per sprite pixel
            if half is None:  # icons: signed distance field -> antialiased alpha in the icon's colour
                idx = sel_a.nonzero().squeeze(1)
                sdf = F.grid_sample(full[index_of[idx]].float(), grid[idx], mode="bilinear", padding_mode="border", align_corners=False)
                dist = (sdf - 128.0) * (self.sdf_spread / 127.0) * scale[idx, None, None, None]
                alpha = (dist + 0.5).clamp(0, 1)
                rgb = self.colours[cond.colour[idx].clamp(min=0)][:, :, None, None] * alpha
                fg[idx] = torch.cat([rgb, alpha], 1)
                continue
            groups = (("half", scale < MIP_THRESHOLD), ("bilinear", (scale >= MIP_THRESHOLD) & (scale <= 1)), ("bicubic", scale > 1))
            for level, in_group in groups:
                sel = sel_a & in_group
                if not bool(sel.any()):
                    continue
                idx = sel.nonzero().squeeze(1)
                src = (half if level == "half" else full)[index_of[idx]].float() / 255.0
                out = F.grid_sample(src, grid[idx], mode="bicubic" if level == "bicubic" else "bilinear", padding_mode="zeros", align_corners=False)
                alpha = out[:, 3:4].clamp(0, 1)
                fg[idx] = torch.cat([torch.minimum(out[:, :3].clamp(min=0), alpha), alpha], 1)
        rgb = fg[:, :3] + (1 - fg[:, 3:4]) * background
        return rgb.clamp(0, 1) * 2 - 1

    # ------------------------------------------------------------------------------------------
    def caption(self, subject: int, style: int, colour: int, bg1: int, bg2: int, rng: np.random.Generator,
                template: str | None = None, name_index: int | None = None) -> str:
        """A training caption (random template and omissions), or one `template` filled exactly."""
        s = self.subjects[subject]
        names = s["names"]
        if name_index is not None:
            name = names[min(name_index, len(names) - 1)]
        else:
            name = names[0] if (rng.random() < 0.7 or len(names) == 1) else names[1 + rng.integers(len(names) - 1)]
        background = self.colour_names[bg1] if bg1 == bg2 else f"{self.colour_names[bg1]} to {self.colour_names[bg2]} gradient"
        style_name = self.styles[style]
        icon = s["kind"] == "icon"
        colour_name = self.colour_names[colour] if icon else ""
        if template is None:
            r = rng.random()
            thing = f"{name} icon" if icon else name
            if r < 0.05:
                return thing
            if r < 0.10:
                return f"{thing}, {style_name} style"
            if r < 0.16:
                return f"{colour_name} {thing} on a {background} background" if icon else f"{thing} on a {background} background"
            if icon and r < 0.22:
                return f"{thing}, {style_name} style, on a {background} background"
            pool = self.templates["icon" if icon else "emoji"]
            template = pool[rng.integers(len(pool))]
        return (template.replace("{subject}", name).replace("{style}", style_name)
                .replace("{background}", background).replace("{colour}", colour_name))

    def captions(self, cond: Conditions, rng: np.random.Generator) -> list[str]:
        s, st, c, b1, b2 = cond.to_lists()
        return [self.caption(s[i], st[i], c[i], b1[i], b2[i], rng) for i in range(len(s))]

    def tokenize(self, captions: list[str]) -> torch.Tensor:
        return torch.tensor([self.tokenizer.encode(c) for c in captions], dtype=torch.long, device=self.device)


def write_samples(data: FlowfillData, out_dir: str | Path, n: int = 16, seed: int = 0) -> list[str]:
    """A few composites of each kind with their captions (what the trainer sees), as PNGs."""
    from PIL import Image

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    lines = []
    ratios = [0.25, 0.5, 1.0, 16 / 9, 4.0, 1.0, 2 / 3, 3.0]
    for k in range(n):
        h, w = bucket_size(ratios[k % len(ratios)], 256 if k % 2 == 0 else 512)
        cond = data.draw_conditions(1, gen)
        img = data.compose(cond, h, w, gen)
        cap = data.captions(cond, rng)[0]
        name = f"sample-{k:02d}-{w}x{h}.png"
        Image.fromarray(((img[0] + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).cpu().numpy()).save(out / name)
        lines.append(f"{name}\t{cap}")
    (out / "captions.tsv").write_text("\n".join(lines) + "\n")
    return lines
