"""On-the-fly training data on the GPU: emoji sprites composed onto backgrounds, with captions.

The Node builder (model/data/build-dataset.mjs) rasterises every (subject, style) sprite once; here
each batch is composed fresh (background, scale, position, aspect ratio), so augmentation is
unlimited and only ~3 MB of sprites travel to the GPU machine. The recipe matches the builder's
sample PNGs: solid or two-colour gradient background, subject 45-80 % of the short side, centre
jittered by up to ±6 % of each side.
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

NATIVE = 256  # pixels; sample_size 32 latents


def bucket_size(aspect: float, native: int = NATIVE, multiple: int = 16) -> tuple[int, int]:
    """(height, width) with width/height ≈ aspect, area ≈ native², sides multiples of 16."""
    width = round(native * math.sqrt(aspect) / multiple) * multiple
    height = round(native / math.sqrt(aspect) / multiple) * multiple
    return height, width


@dataclass
class Batch:
    images: torch.Tensor  # [B,3,H,W] in [-1,1]
    captions: list[str]
    subject: torch.Tensor  # [B] long
    style: torch.Tensor  # [B] long
    colour: torch.Tensor  # [B] long, first background colour
    colour2: torch.Tensor  # [B] long, second colour (== colour for solid backgrounds)


class EmojiData:
    def __init__(self, data_dir: str | Path, device: torch.device | str = "cuda"):
        data_dir = Path(data_dir)
        self.manifest = json.loads((data_dir / "manifest.json").read_text())
        self.device = torch.device(device)
        m = self.manifest
        self.sprite_size = m["sprite_size"]
        self.subjects = m["subjects"]
        self.styles = [s["name"] for s in m["styles"]]
        self.colour_names = [c["name"] for c in m["colours"]]
        self.templates = m["caption_templates"]
        raw = np.frombuffer(gzip.decompress((data_dir / "sprites.u8.gz").read_bytes()), dtype=np.uint8)
        n_sub, n_sty, size = len(self.subjects), len(self.styles), self.sprite_size
        sprites = torch.from_numpy(raw.copy()).view(n_sub * n_sty, size, size, 4).permute(0, 3, 1, 2)
        self.sprites = sprites.to(self.device, torch.float16).div_(255.0)  # premultiplied RGBA
        self.colours = torch.tensor([c["rgb"] for c in m["colours"]], dtype=torch.float32, device=self.device) / 255.0
        held = torch.zeros(n_sub, n_sty, len(self.colour_names), dtype=torch.bool)
        for s, st, c in m["held_out"]["triples"]:
            held[s, st, c] = True
        self.held_out = held.to(self.device)
        self.held_out_triples = [tuple(t) for t in m["held_out"]["triples"]]
        self.tokenizer = CaptionTokenizer.from_dir(data_dir)

    @property
    def num_subjects(self) -> int:
        return len(self.subjects)

    def _draw_conditions(self, batch: int, gen: torch.Generator):
        n_sub, n_sty, n_col = self.held_out.shape
        dev = self.device
        subject = torch.randint(n_sub, (batch,), generator=gen, device=dev)
        style = torch.randint(n_sty, (batch,), generator=gen, device=dev)
        colour = torch.randint(n_col, (batch,), generator=gen, device=dev)
        gradient = torch.rand(batch, generator=gen, device=dev) < self.manifest["composition"]["gradient_probability"]
        colour2 = torch.where(gradient, (colour + torch.randint(1, n_col, (batch,), generator=gen, device=dev)) % n_col, colour)
        # Held-out triples never appear in training, neither as a solid colour nor inside a gradient.
        for _ in range(64):
            bad = self.held_out[subject, style, colour] | self.held_out[subject, style, colour2]
            if not bool(bad.any()):
                break
            k = int(bad.sum())
            colour[bad] = torch.randint(n_col, (k,), generator=gen, device=dev)
            colour2[bad] = torch.where(gradient[bad], (colour[bad] + 1 + torch.randint(n_col - 1, (k,), generator=gen, device=dev)) % n_col, colour[bad])
        return subject, style, colour, colour2

    def compose(self, subject, style, colour, colour2, height: int, width: int, gen: torch.Generator | None = None, jitter: bool = True) -> torch.Tensor:
        """Images [B,3,H,W] in [-1,1] for the given conditions."""
        b = subject.shape[0]
        dev = self.device
        comp = self.manifest["composition"]
        rand = lambda *shape: torch.rand(*shape, generator=gen, device=dev)  # noqa: E731
        angle = rand(b) * 2 * math.pi
        ys = (torch.arange(height, device=dev, dtype=torch.float32) + 0.5) / height - 0.5
        xs = (torch.arange(width, device=dev, dtype=torch.float32) + 0.5) / width - 0.5
        t = 0.5 + xs[None, None, :] * torch.cos(angle)[:, None, None] + ys[None, :, None] * torch.sin(angle)[:, None, None]
        t = t.clamp(0, 1)[:, None]  # [B,1,H,W]
        c1 = self.colours[colour][:, :, None, None]
        c2 = self.colours[colour2][:, :, None, None]
        background = c1 * (1 - t) + c2 * t
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
        theta = torch.zeros(b, 2, 3, device=dev)
        theta[:, 0, 0] = width / size
        theta[:, 0, 2] = (width - 2 * cx) / size
        theta[:, 1, 1] = height / size
        theta[:, 1, 2] = (height - 2 * cy) / size
        grid = F.affine_grid(theta, [b, 4, height, width], align_corners=False)
        sprite = self.sprites[subject * len(self.styles) + style].float()
        fg = F.grid_sample(sprite, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        rgb = fg[:, :3] + (1 - fg[:, 3:4]) * background
        return rgb.clamp(0, 1) * 2 - 1

    def caption(self, subject: int, style: int, colour: int, colour2: int, rng: np.random.Generator, full: bool = False) -> str:
        s = self.subjects[subject]
        name = s["label"] if (full or rng.random() < 0.7 or len(s["names"]) == 1) else s["names"][1 + rng.integers(len(s["names"]) - 1)]
        bg = self.colour_names[colour] if colour == colour2 else f"{self.colour_names[colour]} to {self.colour_names[colour2]} gradient"
        style_name = self.styles[style]
        r = 1.0 if full else rng.random()
        if r < 0.06:
            return name
        if r < 0.14:
            return f"{name}, {style_name} style"
        if r < 0.22:
            return f"{name} on a {bg} background"
        template = self.templates[0] if full else self.templates[rng.integers(len(self.templates))]
        return template.replace("{subject}", name).replace("{style}", style_name).replace("{background}", bg)

    def sample(self, batch: int, height: int, width: int, gen: torch.Generator, rng: np.random.Generator) -> Batch:
        subject, style, colour, colour2 = self._draw_conditions(batch, gen)
        images = self.compose(subject, style, colour, colour2, height, width, gen)
        s, st, c, c2 = (x.tolist() for x in (subject, style, colour, colour2))
        captions = [self.caption(s[i], st[i], c[i], c2[i], rng) for i in range(batch)]
        return Batch(images, captions, subject, style, colour, colour2)

    def tokenize(self, captions: list[str]) -> torch.Tensor:
        return torch.tensor([self.tokenizer.encode(c) for c in captions], dtype=torch.long, device=self.device)
