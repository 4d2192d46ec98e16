"""A bank of encoded training latents on the GPU, refreshed a little at every step.

Encoding a composite costs about as much as one MM-DiT training step on it, so encoding every batch
(v1 did) halves the DiT's throughput. The bank holds latents of composites (with two captions each,
tokenised) in aspect buckets at two native sizes; every step trains on bank entries and replaces a
few with new composites, so the data still never repeats for long.

Buckets: width/height from 1:4 to 4:1 at ~256² and ~512² pixels (sides multiples of 16).
"""
import math
import time

import numpy as np
import torch

from .data import ICON_SHARE, FlowfillData, bucket_size

ASPECTS = (1 / 4, 1 / 3, 1 / 2, 2 / 3, 1.0, 3 / 2, 2.0, 3.0, 4.0)
CAPTIONS_PER_ENTRY = 2


def _autocast(device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)


class LatentBank:
    def __init__(self, data: FlowfillData, encoder, natives=(256, 512), capacity=(8192, 2048), seed: int = 0, subjects=None,
                 icon_share: float = ICON_SHARE, focus=None, focus_share: float = 0.0,
                 focus_by_subject: bool = False, style_weights: dict[int, float] | None = None):
        """encoder: images [B,3,H,W] in [-1,1] -> latent means [B,16,H/8,W/8] (the frozen VAE's).
        subjects: ids the composites are drawn from (run.py --train-subjects); None = all.
        icon_share: the icons' share of the composites (run.py --icon-share; the data's rule is half).
        focus, focus_share: that share of the composites from the focus ids alone (run.py --core-share, --weak-share);
        focus_by_subject: evenly over the focus subjects, whatever their kind (--weak-share).
        style_weights: style id -> factor, each subject's images leaning to those styles (--style-weights)."""
        self.data, self.encoder = data, encoder
        # Restricted or reweighted, the draws keep the data's rules (held-out combinations excluded, uniform within a kind).
        self.weights = data.pair_weights_for(subjects, icon_share, focus, focus_share, focus_by_subject, style_weights)
        self.device = data.device
        self.gen = torch.Generator(device=self.device).manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.buckets = []  # (native, height, width, capacity)
        for native, cap in zip(natives, capacity):
            for a in ASPECTS:
                h, w = bucket_size(a, native)
                self.buckets.append((native, h, w, cap))
        self.latents = [None] * len(self.buckets)
        self.tokens = [None] * len(self.buckets)
        self.filled = [0] * len(self.buckets)

    @torch.no_grad()
    def _make(self, k: int, n: int):
        native, h, w, _ = self.buckets[k]
        cond = self.data.draw_conditions(n, self.gen, weights=self.weights)
        images = self.data.compose(cond, h, w, self.gen)
        with _autocast(self.device):
            z = self.encoder(images.contiguous(memory_format=torch.channels_last) if self.device.type == "cuda" else images)
        caps = [self.data.captions(cond, self.rng) for _ in range(CAPTIONS_PER_ENTRY)]
        tokens = torch.stack([self.data.tokenize(c) for c in caps], dim=1).to(torch.int16)  # [n, K, L]
        return z.to(torch.bfloat16), tokens

    def _chunk(self, k):
        return 128 if self.buckets[k][0] <= 256 else 32

    def fill(self, seconds: float, log=print):
        """Fills buckets round-robin until each is full or `seconds` have passed (then partially)."""
        start = time.time()
        while time.time() - start < seconds:
            open_buckets = [k for k, b in enumerate(self.buckets) if self.filled[k] < b[3]]
            if not open_buckets:
                break
            for k in open_buckets:
                cap = self.buckets[k][3]
                n = min(self._chunk(k), cap - self.filled[k])
                z, tok = self._make(k, n)
                if self.latents[k] is None:
                    self.latents[k] = torch.empty((cap, *z.shape[1:]), dtype=z.dtype, device=self.device)
                    self.tokens[k] = torch.empty((cap, *tok.shape[1:]), dtype=tok.dtype, device=self.device)
                self.latents[k][self.filled[k]: self.filled[k] + n] = z
                self.tokens[k][self.filled[k]: self.filled[k] + n] = tok
                self.filled[k] += n
        total = sum(self.filled)
        gb = sum(x[: f].numel() * 2 for x, f in zip(self.latents, self.filled) if x is not None) / 1e9
        log(f"latent bank: {total} entries in {len(self.buckets)} buckets ({gb:.2f} GB) in {time.time() - start:.0f}s")
        return total

    def refresh(self, k: int, n: int):
        """Replaces n random entries of bucket k by new composites."""
        if self.filled[k] == 0:
            return
        n = min(n, self.filled[k])
        z, tok = self._make(k, n)
        slots = torch.randint(self.filled[k], (n,), generator=self.gen, device=self.device)
        self.latents[k][slots] = z
        self.tokens[k][slots] = tok

    def pick_bucket(self, mix: dict[int, float]) -> int:
        """A bucket: its native size drawn with the probabilities of `mix` ({native: weight}), its
        aspect uniform in log-ratio."""
        natives = sorted(n for n in mix if mix[n] > 0 and any(b[0] == n and self.filled[k] > 0 for k, b in enumerate(self.buckets)))
        if not natives:
            raise ValueError(f"no filled bucket at any native size of {mix}")
        weights = np.array([mix[n] for n in natives], dtype=np.float64)
        want = natives[int(self.rng.choice(len(natives), p=weights / weights.sum()))]
        ks = [k for k, b in enumerate(self.buckets) if b[0] == want and self.filled[k] > 0]
        return int(self.rng.choice(ks))

    def sample(self, k: int, n: int, paired: bool = False):
        """(latents [n,16,h,w] float32, token ids [n,L] long) from bucket k; with `paired`, also
        another caption of the same entries ([n,L]: a second wording of each image)."""
        idx = torch.randint(self.filled[k], (n,), generator=self.gen, device=self.device)
        which = torch.randint(CAPTIONS_PER_ENTRY, (n,), generator=self.gen, device=self.device)
        drawn = self.latents[k][idx].float(), self.tokens[k][idx, which].long()
        if not paired:
            return drawn
        other = (which + 1 + torch.randint(CAPTIONS_PER_ENTRY - 1, (n,), generator=self.gen, device=self.device)) % CAPTIONS_PER_ENTRY
        return *drawn, self.tokens[k][idx, other].long()

    def all_latents(self, limit: int = 200_000):
        """Bank latents as [N, 16] rows (pixels), for latent statistics."""
        rows = [x[: f].float().permute(0, 2, 3, 1).reshape(-1, x.shape[1]) for x, f in zip(self.latents, self.filled) if f]
        out = torch.cat(rows)
        if out.shape[0] > limit:
            out = out[torch.randperm(out.shape[0], generator=self.gen, device=self.device)[:limit]]
        return out


def tokens_per_image(height: int, width: int, patch: int = 2, vae_factor: int = 8) -> int:
    return (height // vae_factor // patch) * (width // vae_factor // patch)


def resolution_shift(height: int, width: int, base_tokens: int = 256) -> float:
    """Timestep shift for training at more tokens than the 256² base: sqrt(tokens / 256) (SD3, section 5.3.2)."""
    return math.sqrt(tokens_per_image(height, width) / base_tokens)
