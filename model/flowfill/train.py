"""Training stages: VAE -> latent statistics -> text encoder + MM-DiT (jointly), each in time budgets.

Every stage runs for a number of seconds of wall time, so a GPU call of fixed length can be planned
(model/gpu-slice.sh). State between calls is the exported package itself (resume.py).
"""
import gc
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from .bank import LatentBank, resolution_shift
from .distill import teacher_target
from .distributed import GradientExchange, Ranks
from .data import FlowfillData, bucket_size
from .mmdit import DIT_CONFIG, SD3Transformer2DModel
from .on_policy import TrajectoryPool
from .quantize import dequantize, quantize_per_channel
from .text_encoder import TEXT_CONFIG, CLIPTextModelWithProjection, sd3_conditioning
from .vae import VAE_CONFIG, AutoencoderKL

MAX_SEQUENCE_LENGTH = 4  # T5-zeros block length (no T5 here); exported in flowfill.json
CFG_DROPOUT = 0.1
# Which weights ship as int8 (export.py applies the same rule to the ONNX graphs): Linear weights
# and Embedding tables with at least this many elements, convolution kernels with at least CONV_MIN.
LINEAR_MIN = 16384
CONV_MIN = 4096


def autocast(device, cache: bool = True):
    """bf16 autocast on CUDA, off elsewhere; `cache=False` for CUDA graph capture (Bf16Forward)."""
    dev = torch.device(device)
    if dev.type != "cuda":
        return torch.autocast("cpu", enabled=False)
    return torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=cache)


def adamw(params, lr, device, **kw):
    fused = torch.device(device).type == "cuda" and "fused" in torch.optim.AdamW.__init__.__code__.co_varnames
    return torch.optim.AdamW(params, lr=lr, **({"fused": True} if fused else {}), **kw)


@torch.no_grad()
def snap_to_int8(module: torch.nn.Module) -> int:
    """Rounds the weights that ship as int8 to their int8 values (per output channel), in place, so
    training continues with exactly the weights the package holds. Returns how many tensors."""
    n = 0
    for m in module.modules():
        if isinstance(m, torch.nn.Linear) and m.weight.numel() >= LINEAR_MIN:
            w, axis = m.weight, 0  # PyTorch [out, in]
        elif isinstance(m, torch.nn.Embedding) and m.weight.numel() >= LINEAR_MIN:
            w, axis = m.weight, 0  # one scale per row (token)
        elif isinstance(m, torch.nn.Conv2d) and m.weight.numel() >= CONV_MIN:
            w, axis = m.weight, 0
        else:
            continue
        q, s = quantize_per_channel(w.detach().float().cpu().numpy(), axis)
        w.copy_(torch.from_numpy(dequantize(q, s, axis)).to(w.dtype))
        n += 1
    return n


# ------------------------------------------------------------------------------------------------
# VAE

def _edge_l1(rec, x):
    return ((rec[..., 1:, :] - rec[..., :-1, :]) - (x[..., 1:, :] - x[..., :-1, :])).abs().mean() + (
        (rec[..., 1:] - rec[..., :-1]) - (x[..., 1:] - x[..., :-1])).abs().mean()


def reconstruction_loss(rec, x, edge_weight: float):
    """L1 + MSE + edge_weight · the finite differences' L1; returns (loss, l1, mse, edge L1)."""
    l1, mse, edges = (rec - x).abs().mean(), F.mse_loss(rec, x), _edge_l1(rec, x)
    return l1 + mse + edge_weight * edges, l1, mse, edges


def vae_training_window(data: FlowfillData, rng, gen, step: int, batch: int, crop: int):
    """One VAE training batch: a crop of composites at a native size (512 every third step, else 256) and an aspect
    bucket drawn from 1:4…4:1; returns (images, crop side, height, width)."""
    native = 512 if step % 3 == 0 else 256
    h, w = bucket_size(float(np.exp(rng.uniform(np.log(0.25), np.log(4.0)))), native)
    c = min(crop, h, w)
    cond = data.draw_conditions(batch, gen)
    top, left = int(rng.integers(0, h - c + 1)) // 8 * 8, int(rng.integers(0, w - c + 1)) // 8 * 8
    return data.compose(cond, h, w, gen, window=(top, left, c, c)), c, h, w


def warm_cosine(lr: float, step: int, frac: float, warmup: int) -> float:
    """A linear warm-up over `warmup` steps, then cosine from lr down to 2 % of it as frac goes 0 → 1."""
    return lr * min(1.0, (step + 1) / warmup) * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * frac)))


def train_vae(data: FlowfillData, seconds: float, log, batch: int = 128, crop: int = 128, seed: int = 1, lr: float = 1e-3,
              config: dict | None = None):
    """L1 + MSE + 0.5·edge L1 + 1e-4·KL on random crops of composites at both native sizes; the
    last third also decodes slightly noised latents (σ up to 0.1 of the latent std), so the decoder
    stays clean on the imperfect latents a DiT produces."""
    dev = data.device
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev).manual_seed(seed)
    rng = np.random.default_rng(seed)
    vae = AutoencoderKL(config or VAE_CONFIG).to(dev)
    if dev.type == "cuda":
        vae = vae.to(memory_format=torch.channels_last)
    opt = adamw(vae.parameters(), lr, dev, betas=(0.9, 0.99), weight_decay=0.0)
    start, step, hist = time.time(), 0, []
    while time.time() - start < seconds:
        frac = (time.time() - start) / seconds
        for g in opt.param_groups:
            g["lr"] = warm_cosine(lr, step, frac, warmup=200)
        x, c, h, w = vae_training_window(data, rng, gen, step, batch, crop)
        with autocast(dev):
            mean, logvar = vae.encode_moments(x)
            mean, logvar = mean.float(), logvar.float()
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen, device=dev)
            if frac > 2 / 3:
                sigma = 0.1 * mean.detach().std() * torch.rand(batch, 1, 1, 1, generator=gen, device=dev)
                z = z + sigma * torch.randn(z.shape, generator=gen, device=dev)
            rec = vae.decode(z).float()
        reconstruction, l1, mse, _ = reconstruction_loss(rec, x, 0.5)
        kl = 0.5 * (mean ** 2 + logvar.exp() - 1 - logvar).mean()
        loss = reconstruction + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0:
            psnr = 10 * math.log10(4.0 / max(mse.item(), 1e-10))
            hist.append([step, round(l1.item(), 5), round(psnr, 2), round(kl.item(), 3)])
            log(f"vae step {step} l1 {l1.item():.4f} psnr {psnr:.2f} kl {kl.item():.3f} crop {c} of {h}x{w}")
    vae = vae.to(memory_format=torch.contiguous_format).eval().requires_grad_(False)
    log(f"vae: {step} steps in {time.time() - start:.0f}s")
    return vae, {"steps": step, "seconds": round(time.time() - start, 1), "loss_history": hist}


@torch.no_grad()
def vae_psnr(vae: AutoencoderKL, data: FlowfillData, triples: list[dict], natives=(256, 512), batch: int = 50, seed: int = 3):
    """Reconstruction PSNR (dB, images in [-1,1] -> [0,1]) on renders of held-out combinations, per native size."""
    out = {}
    gen = torch.Generator(device=data.device).manual_seed(seed)
    for native in natives:
        vals = []
        for i in range(0, len(triples), batch):
            cond = data.conditions_for(triples[i: i + batch])
            x = data.compose(cond, native, native, gen)
            rec = vae.decode(vae.encode_moments(x)[0]).clamp(-1, 1)
            mse = ((rec - x) / 2).pow(2).mean(dim=(1, 2, 3))
            vals.append(10 * torch.log10(1.0 / mse.clamp(min=1e-12)))
        out[str(native)] = float(torch.cat(vals).mean())
    return out


@torch.no_grad()
def latent_statistics(bank: LatentBank, data: FlowfillData, vae: AutoencoderKL, seed: int = 2, batches: int = 8):
    """SD3-style shift_factor (mean) and scaling_factor (1/std) of bank latents, plus a 16x3
    least-squares latent->RGB fit on model-space latents ((z - shift) * scale) for previews."""
    z = bank.all_latents().double()
    shift = z.mean().item()
    scale = 1.0 / z.std().item()
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    zs, imgs = [], []
    for _ in range(batches):
        h, w = bucket_size(float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))), 256)
        x = data.compose(data.draw_conditions(64, gen), h, w, gen)
        zz = (vae.encode_moments(x)[0] - shift) * scale
        zs.append(zz.permute(0, 2, 3, 1).reshape(-1, zz.shape[1]).double())
        imgs.append(F.avg_pool2d(x, 8).permute(0, 2, 3, 1).reshape(-1, 3).double())
    zm, target = torch.cat(zs).cpu(), torch.cat(imgs).cpu()
    a = torch.cat([zm, torch.ones(zm.shape[0], 1, dtype=torch.float64)], 1)
    sol = torch.linalg.lstsq(a, target).solution  # [17, 3]
    return {
        "shift_factor": shift,
        "scaling_factor": scale,
        "latent_rgb_factors": sol[:16].tolist(),
        "latent_rgb_bias": sol[16].tolist(),
        "latent_rgb_fit_mae": float((a @ sol - target).abs().mean()),
        "per_channel_std": (z.std(0) * scale).tolist(),
        "max_abs_model_space": float(((z - shift) * scale).abs().max()),
    }


# ------------------------------------------------------------------------------------------------
# Text encoder + MM-DiT

def build_models(vocab_size: int, device, dit_config: dict | None = None, text_config: dict | None = None):
    te = CLIPTextModelWithProjection(dict(text_config or TEXT_CONFIG, vocab_size=vocab_size)).to(device)
    dit = SD3Transformer2DModel(dict(dit_config or DIT_CONFIG)).to(device)
    return te, dit


# Native sizes the DiT trains at and how often ({native: weight}): 75 % of steps at ~256², 25 % at ~512².
DEFAULT_MIX = {256: 0.75, 512: 0.25}


def parse_mix(text: str) -> dict[int, float]:
    """'128:0.5,256:0.3,512:0.2' -> {128: 0.5, 256: 0.3, 512: 0.2} (weights need not sum to 1)."""
    mix = {}
    for part in text.split(","):
        native, _, weight = part.partition(":")
        if not native.strip().isdigit() or int(native) % 16 or not weight:
            raise ValueError(f"--mix {text!r}: each entry is <native px, a multiple of 16>:<weight>, e.g. 256:0.75,512:0.25")
        mix[int(native)] = float(weight)
    if not mix or min(mix.values()) < 0 or sum(mix.values()) <= 0:
        raise ValueError(f"--mix {text!r}: weights must be non-negative and not all zero")
    return mix


def images_per_step(batch_at_256: int, native: int) -> int:
    """Every native size gets the tokens of `batch_at_256` images at 256² per step: 4x the images
    at 128², a quarter at 512² (per-step cost stays about constant)."""
    return max(1, round(batch_at_256 * (256 / native) ** 2))


class Bf16Forward(torch.nn.Module):
    """A training step's forward under bf16 autocast without its weight cache (CUDA graphs capture the casts
    instead): the MM-DiT on (latents, t, ctx, pooled) — a distilling student, or its teacher without gradients —
    or, given a text encoder, the text encoder on the caption ids first, returning (velocity, pooled) so a text
    loss can use the pooled features."""

    def __init__(self, dit, te=None):
        super().__init__()
        self.dit, self.te = dit, te

    def forward(self, xt, t, *conditioning):
        with autocast(xt.device, cache=False):
            if self.te is None:
                return self.dit(xt, t, *conditioning)
            [ids] = conditioning
            ctx, pooled = sd3_conditioning(self.te, ids, self.dit.config["joint_attention_dim"], MAX_SEQUENCE_LENGTH)
            return self.dit(xt, t, ctx, pooled), pooled


class GraphedForward:
    """A module's forward and backward replayed from CUDA graphs, one pair per input shape (a bucket),
    captured at that shape's first call (torch.cuda.make_graphed_callables: three warm-up runs, then the
    capture). A DiT step is bound by kernel launches, not arithmetic (model/README.md, "What capacity
    costs"; ~8,000 kernels a step, "Session 22"); a replay launches a pass's thousands at once. Every
    shape's graphs share one memory pool, which is safe because a step runs one graph's forward and then
    its backward before any other graph runs. Call it outside autocast (the module brings its own,
    uncached: Bf16Forward); inputs must not require grad; frozen parameters (a frozen text encoder) are
    fine, and under torch.no_grad (a teacher) only the forward is captured.

    Each shape's graphs keep their activations' memory for good, so many buckets at a large batch can fill
    the card (18 buckets at --batch 1024 passed an H100's 80 GB in session 36). A capture that runs out of
    memory drops every graph and the rest of the run goes on eagerly, told through `report`, instead of
    losing the call."""

    def __init__(self, module: torch.nn.Module, report=print):
        self.module = module
        self.graphs: dict = {}
        self.pool = None
        self.eager = False
        self.report = report

    def __call__(self, *args):
        if self.eager:
            return self.module(*args)
        key = tuple((tuple(a.shape), a.dtype) for a in args)
        graphed = self.graphs.get(key)
        if graphed is None:
            self.pool = self.pool or torch.cuda.graph_pool_handle()
            # make_graphed_callables patches the module it is given: a holder per shape shares the parameters.
            samples = tuple(a.detach().clone() for a in args)
            try:
                graphed = torch.cuda.make_graphed_callables(_Holder(self.module), samples, pool=self.pool)
            except torch.cuda.OutOfMemoryError:
                graphed = None  # handled below, once the exception's traceback no longer holds the capture's tensors
            if graphed is None:
                del samples
                self._go_eager(key)
                return self.module(*args)
            self.graphs[key] = graphed
        return graphed(*args)

    def _go_eager(self, key):
        shapes = len(self.graphs)
        self.graphs.clear()
        self.pool, self.eager = None, True
        gc.collect()
        torch.cuda.empty_cache()
        self.report(f"cuda graphs: out of memory capturing shape {[list(s) for s, _ in key]} after {shapes} shape(s); "
                    "graphs dropped, training on eagerly")


class _Holder(torch.nn.Module):
    def __init__(self, inner: torch.nn.Module):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        return self.inner(*args)


class StepPhases:
    """Where a DiT step's time goes, measured once per slice over `count` steps from step `first`:
    the GPU is synchronised at every phase boundary (only inside that window, since it removes the
    CPU/GPU overlap the other steps have), so the phases add up to a serialised step."""

    def __init__(self, device, first: int, count: int):
        self.cuda = torch.device(device).type == "cuda"
        self.first, self.count = first, count
        self.totals: dict[str, float] = {}
        self.active = False
        self.t = 0.0

    def _now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def begin(self, step: int):
        self.active = self.first <= step < self.first + self.count
        if self.active:
            self.t = self._now()

    def mark(self, name: str):
        if self.active:
            now = self._now()
            self.totals[name] = self.totals.get(name, 0.0) + now - self.t
            self.t = now

    def done(self, step: int) -> bool:
        return step == self.first + self.count and bool(self.totals)

    def report(self) -> str:
        parts = ", ".join(f"{k} {v / self.count * 1000:.1f}" for k, v in self.totals.items())
        return f"dit step phases over {self.count} synchronised steps (ms each): {parts}; sum {sum(self.totals.values()) / self.count * 1000:.1f}"


class KernelProfile:
    """Which kernels a DiT step spends its GPU time on, over `count` steps from step `first` (torch.profiler):
    the top kernels by GPU time, their sum and count against the wall, which says whether the step is
    bound by the GPU's arithmetic or by launching it (on a CPU: the top operators by CPU time). Off
    unless FLOWFILL_PROFILE_STEPS is set (a diagnostic: the profiler slows the steps it watches)."""

    def __init__(self, device, first: int, count: int):
        self.first, self.count = first, count
        self.cuda = torch.device(device).type == "cuda"
        self.prof = None
        self.t = 0.0

    def begin(self, step: int):
        if self.count and step == self.first:
            activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if self.cuda else [])
            self.prof = torch.profiler.profile(activities=activities)
            if self.cuda:
                torch.cuda.synchronize()
            self.prof.start()
            self.t = time.perf_counter()

    def done(self, step: int) -> bool:
        return self.prof is not None and step == self.first + self.count

    def report(self, rows: int = 20) -> str:
        if self.cuda:
            torch.cuda.synchronize()
        wall = (time.perf_counter() - self.t) / self.count * 1000
        self.prof.stop()
        events = self.prof.key_averages()
        device_us = lambda e: getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)  # noqa: E731
        # Only the kernels themselves: an operator's own row repeats the device time of the kernels it launched.
        kernels = [e for e in events if e.device_type != torch.autograd.DeviceType.CPU]
        busy = sum(device_us(e) for e in kernels) / self.count / 1000
        launches = sum(e.count for e in kernels) / self.count
        top = sorted(kernels, key=device_us, reverse=True)[:rows] if kernels else \
            sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:rows]
        lines = [f"dit kernel profile over {self.count} steps: wall {wall:.1f} ms a step (under the profiler), "
                 f"GPU kernels {busy:.1f} ms, {launches:.0f} kernels a step"]
        for e in top:
            lines.append(f"  {device_us(e) / self.count / 1000:8.2f} ms GPU {e.self_cpu_time_total / self.count / 1000:8.2f} ms CPU "
                         f"{e.count / self.count:6.1f}x  {e.key[:90]}")
        self.prof = None
        return "\n".join(lines)


def paired_caption_loss(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Symmetric InfoNCE between two wordings of the same images' captions ([n, d] each, row i of
    `a` and of `b` describe one image): each must be nearer its own pair than any other row. It
    keeps in the text features whatever tells the images apart — the subject above all — which the
    pixel loss alone lets the text encoder drop (flowfill.text_probe)."""
    a = F.normalize(a.float(), dim=1)
    b = F.normalize(b.float(), dim=1)
    logits = a @ b.T / temperature
    target = torch.arange(len(a), device=a.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def edge_loss(v: torch.Tensor, target: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """L1 between the spatial differences of the clean latent the prediction implies and of the true one, weighted by
    (1 − t)² per image. With x_t = (1 − t)·x0 + t·ε and v ≈ ε − x0, x0's estimate is x_t − t·v, so its error is
    t·(target − v): the term needs no x_t. The MSE on v weighs every frequency alike and lets a blurred or broken
    contour cost little; this asks the finish, the low-noise steps where contours are drawn, for the renders' edges.
    At high noise the weight fades, so the mean prediction a blurry posterior calls for is not pushed to invent edges."""
    err = t[:, None, None, None] * (target.float() - v.float())  # x0's estimate − x0
    dx = (err[..., :, 1:] - err[..., :, :-1]).abs().mean(dim=(1, 2, 3))
    dy = (err[..., 1:, :] - err[..., :-1, :]).abs().mean(dim=(1, 2, 3))
    return ((1 - t.float()) ** 2 * (dx + dy)).mean()


def training_timesteps(n: int, height: int, width: int, generator: torch.Generator, device, noise_shift: float = 1.0,
                       low_noise_share: float = 0.0) -> torch.Tensor:
    """Rectified-flow training times: t = sigmoid(N(0, 1)), shifted by SD3's resolution shift sqrt(tokens / 256)
    times noise_shift. noise_shift > 1 spends more steps near pure noise, where the layout is decided; the
    sampler runs at shift 3–4 while a 256² image trains at 1 (median t = s / (1 + s)). A share
    `low_noise_share` of the times keeps the resolution shift alone: the lower noise levels, where the
    finish (gloss, line weight) is drawn, would otherwise all but vanish from training at a large shift."""
    t = torch.sigmoid(torch.randn(n, generator=generator, device=device))
    shift = noise_shift
    if low_noise_share > 0:  # no extra draw otherwise, so recipes without it keep their random stream
        kept = (torch.rand(n, generator=generator, device=device) < low_noise_share).float()
        shift = noise_shift + (1.0 - noise_shift) * kept
    s = resolution_shift(height, width) * shift
    return s * t / (1 + (s - 1) * t)


def low_noise_share_at(share: float, sizes: tuple[int, ...], native: int) -> float:
    """The low-noise share (training_timesteps) of a batch at size class `native`: `share` at the sizes named, every
    size if none are. Aimed at 512² alone, it gives back the low noise levels there, where the SD3 resolution shift
    doubles the noise shift and the finish of a 512² drawing (its contours) trains least, without moving 256²."""
    return share if not sizes or native in sizes else 0.0


def cooldown_factor(elapsed: float, seconds: float, end: float) -> float:
    """The learning rate's multiplier `elapsed` seconds into a call of `seconds` that anneals: linear from 1
    to `end` over the call (1 = off), the decay phase of warmup-stable-decay schedules, which removes the
    noise a constant learning rate leaves in the last steps. Slice 31 (session 17) annealed to 0.1 against
    plain training from the same state and gained nothing (78.0 against 79.0 % among the 400)."""
    return 1.0 - (1.0 - end) * min(1.0, elapsed / max(seconds, 1e-9))


class DitTrainer:
    """Joint text-encoder + MM-DiT rectified-flow training from a latent bank.

    Rectified flow (SD3): x_t = (1 − t)·x0 + t·ε, target ε − x0, plain MSE, t = sigmoid(N(0, 1))
    shifted by sqrt(tokens/256) at the larger size; 10 % empty captions for CFG. AdamW (β 0.9/0.99,
    wd 0.01), lr warm-up then cosine to 10 % over the planned total seconds, grad-clip 1, bf16
    autocast, EMA 0.999 of both networks (exported)."""

    def __init__(self, data: FlowfillData, te, dit, te_ema, dit_ema, stats: dict, *, lr: float = 6e-4, batch: int = 256,
                 mix: dict[int, float] | None = None, refresh: int = 32, seed: int = 1000, ranks: Ranks | None = None,
                 text_contrast: float = 0.0, noise_shift: float = 1.0, low_noise_share: float = 0.0,
                 low_noise_sizes: tuple[int, ...] = (), edge: float = 0.0,
                 cooldown_to: float = 1.0, teacher=None, distill: dict | None = None, cuda_graphs: bool = False,
                 on_policy: float = 0.0, sampler_steps: int = 20):
        self.ranks = ranks or Ranks()
        self.data, self.te, self.dit, self.te_ema, self.dit_ema = data, te, dit, te_ema, dit_ema
        self.dev = data.device
        self.shift, self.scale = stats["shift_factor"], stats["scaling_factor"]
        self.lr, self.batch, self.refresh = lr, batch, refresh
        # Weight of paired_caption_loss on the pooled text features (0: pixel loss only).
        self.text_contrast = text_contrast
        self.noise_shift, self.low_noise_share, self.low_noise_sizes = noise_shift, low_noise_share, tuple(low_noise_sizes)
        # Weight of edge_loss beside the MSE (0: the MSE alone).
        self.edge = edge
        self.cooldown_to = cooldown_to
        # Guidance distillation (flowfill.distill; `distill` is the state's record of it): the student predicts the
        # teacher's guided velocity on every caption (no dropout), the text encoder frozen; its EMA warms up from
        # the step distillation began.
        self.teacher, self.distill = teacher, distill
        if teacher is not None:
            te.requires_grad_(False)
            if edge:
                raise ValueError("--edge-loss compares with the renders' latents; a distilling student's target is its teacher's")
            if text_contrast:
                raise ValueError("--text-contrast trains the text encoder, which guidance distillation keeps frozen")
        elif on_policy:
            raise ValueError("--distill-on-policy draws states from a distilling student's own trajectories: it needs a teacher")
        # Share of a distilling batch taken from the student's own sampler trajectories (flowfill.on_policy), one pool per
        # bucket, each integrated over `sampler_steps` as the evaluation samples.
        self.on_policy, self.sampler_steps, self.pools = on_policy, sampler_steps, {}
        self.mix = mix or dict(DEFAULT_MIX)
        # The forward the gradients flow through: the text encoder and the MM-DiT, or the MM-DiT alone when the text
        # encoder is frozen; replayed from CUDA graphs on request (run.py --cuda-graphs).
        self.student = Bf16Forward(dit, None if teacher is not None else te)
        # The teacher's guided velocity, without gradients (guidance distillation only).
        self.teacher_forward = Bf16Forward(teacher) if teacher is not None else None
        if cuda_graphs:
            if torch.device(self.dev).type != "cuda":
                raise ValueError("--cuda-graphs needs a CUDA device")
            self.student = GraphedForward(self.student)
            if teacher is not None:
                self.teacher_forward = GraphedForward(self.teacher_forward)
        for m in (te_ema, dit_ema):
            m.requires_grad_(False)
        self.params = list(dit.parameters()) + ([] if teacher is not None else list(te.parameters()))
        self.ema_params = list(dit_ema.parameters()) + ([] if teacher is not None else list(te_ema.parameters()))
        self.opt = adamw(self.params, lr, self.dev, betas=(0.9, 0.99), weight_decay=0.01)
        self.exchange = GradientExchange(self.ranks, self.params, self.dev)
        self.gen = torch.Generator(device=self.dev).manual_seed(seed)
        self.rng = np.random.default_rng(seed)
        self.uncond = data.tokenize([""])

    def _pool(self, bank: LatentBank, k: int, rows: int, shape) -> TrajectoryPool | None:
        """Bucket k's trajectory pool of `rows` rows (made at its first use; None when a share rounds to no row)."""
        if rows < 1:
            return None
        if k not in self.pools:
            # The live student, eager and without gradients (the pool steps under no_grad), on each row's conditioning
            # from the frozen text encoder, encoded once when the row starts.
            self.pools[k] = TrajectoryPool(rows, tuple(shape), self.sampler_steps, Bf16Forward(self.dit),
                                           lambda c: self._conditioning(bank.sample(k, c)[1]), self.gen, device=self.dev)
        return self.pools[k]

    @torch.no_grad()
    def _conditioning(self, ids):
        """(ctx, pooled) of caption ids through the frozen text encoder (guidance distillation only)."""
        with autocast(self.dev):
            return sd3_conditioning(self.te, ids, self.dit.config["joint_attention_dim"], MAX_SEQUENCE_LENGTH)

    def run(self, bank: LatentBank, seconds: float, state: dict, total_seconds: float, log):
        """Trains for `seconds`; state holds dit_steps, dit_seconds and dit_loss_history (updated)."""
        for forward in (self.student, self.teacher_forward):
            if isinstance(forward, GraphedForward):
                forward.report = log
        step0 = step = state.get("dit_steps", 0)
        elapsed0 = state.get("dit_seconds", 0.0)
        hist = state.setdefault("dit_loss_history", [])
        warm = 400 if step0 == 0 else 100  # Adam moments restart on resume
        # The EMA warms up in the call its objective began in (the first slice, or the first distilling one).
        fresh = step0 if self.teacher is None else self.distill["from_dit_step"]
        ema_warms = step0 == fresh
        # The frozen text encoder gives the empty prompt the same conditioning every step: computed once.
        empty = None
        start, losses, edges = time.time(), [], []
        cfg = self.dit.config
        # In parallel every rank acts on rank 0's clock (GradientExchange), so all take the same
        # steps with the same learning rate.
        stop, clock = False, 0.0
        phases = StepPhases(self.dev, first=step0 + 200, count=40)
        profile = KernelProfile(self.dev, first=step0 + 260,
                                count=int(os.environ.get("FLOWFILL_PROFILE_STEPS", "0")) if self.ranks.main else 0)
        while not stop:
            phases.begin(step)
            profile.begin(step)
            progress = min(1.0, (elapsed0 + clock) / max(total_seconds, 1.0))
            lr = self.lr * min(1.0, (step - step0 + 1) / warm) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
            lr *= cooldown_factor(clock, seconds, self.cooldown_to)
            for g in self.opt.param_groups:
                g["lr"] = lr
            k = bank.pick_bucket(self.mix)
            native, h, w, _ = bank.buckets[k]
            n = images_per_step(self.batch, native)
            if self.text_contrast > 0:
                z, ids, ids2 = bank.sample(k, n, paired=True)
            else:
                z, ids = bank.sample(k, n)
            if self.teacher is None:
                drop = torch.rand(n, generator=self.gen, device=self.dev) < CFG_DROPOUT
                ids = torch.where(drop[:, None], self.uncond.expand(n, -1), ids)
            x0 = (z - self.shift) * self.scale
            noise = torch.randn(x0.shape, generator=self.gen, device=self.dev)
            t = training_timesteps(n, h, w, self.gen, self.dev, self.noise_shift,
                                   low_noise_share_at(self.low_noise_share, self.low_noise_sizes, native))
            tb = t[:, None, None, None]
            xt = (1 - tb) * x0 + tb * noise
            phases.mark("batch")
            pool = None
            if self.teacher is None:
                target = noise - x0
                v, pooled = self.student(xt, t * 1000, ids)
            else:
                pool = self._pool(bank, k, round(self.on_policy * n), x0.shape[1:])
                m = 0 if pool is None else len(pool.x)
                ctx, pooled = self._conditioning(ids[m:])
                if empty is None:
                    empty = self._conditioning(self.uncond)
                if pool is not None:
                    # The pool's rows replace the batch's first rows: the same shapes, so the same CUDA graphs.
                    px, pt, (pctx, ppooled) = pool.current()
                    xt, t = torch.cat([px, xt[m:]]), torch.cat([pt, t[m:]])
                    ctx, pooled = torch.cat([pctx, ctx]), torch.cat([ppooled, pooled])
                uctx, upooled = (e.expand(n, *e.shape[1:]) for e in empty)
                target = teacher_target(self.teacher_forward, xt, t * 1000, ctx, pooled, uctx, upooled, self.distill["guidance"])
                v = self.student(xt, t * 1000, ctx, pooled)
            loss = F.mse_loss(v.float(), target)
            if self.edge > 0:
                edge_term = edge_loss(v, target, t)
                loss = loss + self.edge * edge_term
            if self.text_contrast > 0:
                keep = ~drop
                with autocast(self.dev):
                    _, pooled2 = sd3_conditioning(self.te, ids2[keep], cfg["joint_attention_dim"], MAX_SEQUENCE_LENGTH)
                loss = loss + self.text_contrast * paired_caption_loss(pooled[keep], pooled2)
            phases.mark("forward")
            loss.backward()
            phases.mark("backward")
            own = time.time() - start
            stop, clock = self.exchange.exchange(own >= seconds, own)
            phases.mark("all-reduce")
            torch.nn.utils.clip_grad_norm_(self.params, 1.0)
            self.opt.step()
            # Gradients dropped here rather than before the next backward: the next forward then runs without them
            # (a lower peak), and a graphed backward's gradients, which can be its pool's own buffers, free with it.
            self.opt.zero_grad(set_to_none=True)
            step += 1
            decay = min(0.999, (1 + step - fresh) / (10 + step - fresh)) if ema_warms else 0.999
            with torch.no_grad():
                torch._foreach_mul_(self.ema_params, decay)
                torch._foreach_add_(self.ema_params, self.params, alpha=1 - decay)
            phases.mark("optimiser + EMA")
            if pool is not None:
                pool.advance()
                phases.mark("on-policy pool")
            if self.refresh:
                r = bank.pick_bucket(self.mix)
                bank.refresh(r, images_per_step(self.refresh, bank.buckets[r][0]))
            phases.mark("bank refresh")
            if phases.done(step):
                log(phases.report())
            if profile.done(step):
                log(profile.report())
            if step % 25 == 0:
                losses.append(loss.item())
                if self.edge > 0:
                    edges.append(edge_term.item())
            if step % 250 == 0 and self.ranks.main:
                hist.append([step, round(float(np.mean(losses)), 5), round(elapsed0 + time.time() - start, 1)])
                # The loss logged is the sum; the edge term's own mean says what share of it the term is.
                edge_note = f" (edge term {np.mean(edges):.4f})" if edges else ""
                losses, edges = [], []
                log(f"dit step {step} loss {hist[-1][1]:.4f}{edge_note} lr {lr:.2e} {h}x{w}x{n} {(time.time() - start) / max(step - step0, 1) * 1000:.0f} ms/step")
            # A graphed forward's outputs keep its CUDA graphs and their memory pool alive through their autograd
            # nodes (and so does the loss built on them): were they still bound at the next step's forward, a capture
            # running out of memory could not free the graphs before going on eagerly (session 37: 54 GB held).
            del v, pooled, loss
            edge_term = None
        used = time.time() - start
        if self.pools and self.ranks.main:
            log(f"dit: on-policy rows {self.on_policy:.0%} of each batch, from {len(self.pools)} trajectory pools")
        state["dit_gpu_seconds"] = state.get("dit_gpu_seconds", elapsed0) + used * self.ranks.world
        state.update(dit_steps=step, dit_seconds=elapsed0 + used)
        log(f"dit: steps {step0} -> {step}, {used:.0f}s this call, {elapsed0 + used:.0f}s total")
        return state
