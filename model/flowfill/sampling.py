"""Flow-matching Euler sampling exactly as diffusers' FlowMatchEulerDiscreteScheduler (static shift)
and StableDiffusion3Pipeline do it, used for evaluation (the TypeScript engine does the same)."""
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from .text_encoder import sd3_conditioning


def flow_match_sigmas(steps: int, shift: float, train_timesteps: int = 1000) -> np.ndarray:
    """steps+1 float32 sigmas (last 0), including diffusers' double application of the static shift."""
    s_min = np.float32(1.0 / train_timesteps)
    s_min = np.float32(shift * s_min / (1 + (shift - 1) * s_min))
    timesteps = np.linspace(1.0 * train_timesteps, float(s_min) * train_timesteps, steps)
    sig = timesteps / train_timesteps
    sig = (shift * sig / (1 + (shift - 1) * sig)).astype(np.float32)
    return np.concatenate([sig, np.zeros(1, dtype=np.float32)])


@dataclass
class Pipeline:
    """What sampling needs from a trained model (v2 or v1 read from its package)."""
    tokenize: Callable[[list[str]], torch.Tensor]
    text_encoder: torch.nn.Module
    dit: torch.nn.Module
    vae_decode: Callable[[torch.Tensor], torch.Tensor]
    scaling_factor: float
    shift_factor: float
    max_sequence_length: int


def guided(guidance: float) -> bool:
    """Whether the sampler calls the transformer on [uncond, cond] batches (classifier-free guidance) at this guidance."""
    return guidance > 1


def guided_velocity(dit, latents, t, ctx, pooled, uctx, upooled, guidance: float) -> torch.Tensor:
    """The velocity the sampler steps with: classifier-free guidance against the empty prompt at batch 2
    (uncond first, as diffusers), or the conditional prediction alone at guidance 1 or less."""
    if not guided(guidance):
        return dit(latents, t, ctx, pooled).float()
    v = dit(torch.cat([latents, latents]), torch.cat([t, t]), torch.cat([uctx, ctx]), torch.cat([upooled, pooled])).float()
    vu, vc = v.chunk(2)
    return vu + guidance * (vc - vu)


@torch.no_grad()
def generate(pipe: Pipeline, prompts: list[str], height: int, width: int, *, steps: int, guidance: float, shift: float,
             generator: torch.Generator, autocast_dtype=None) -> torch.Tensor:
    """Images [B,3,H,W] in [-1,1] for the prompts, with CFG against the empty prompt."""
    dit, te = pipe.dit, pipe.text_encoder
    cfg = dit.config
    ids = pipe.tokenize(prompts)
    b, dev = ids.shape[0], ids.device
    ctx, pooled = sd3_conditioning(te, ids, cfg["joint_attention_dim"], pipe.max_sequence_length)
    uctx, upooled = sd3_conditioning(te, pipe.tokenize([""]).expand(b, -1), cfg["joint_attention_dim"], pipe.max_sequence_length)
    latents = torch.randn(b, cfg["in_channels"], height // 8, width // 8, generator=generator, device=dev)
    sigmas = flow_match_sigmas(steps, shift)
    amp = torch.autocast("cuda", dtype=autocast_dtype) if (autocast_dtype is not None and dev.type == "cuda") else torch.autocast("cpu", enabled=False)
    for i in range(steps):
        t = torch.full((b,), float(np.float32(sigmas[i] * 1000)), device=dev)
        with amp:
            v = guided_velocity(dit, latents, t, ctx, pooled, uctx, upooled, guidance)
        latents = latents + float(sigmas[i + 1] - sigmas[i]) * v
    z = latents / pipe.scaling_factor + pipe.shift_factor
    return pipe.vae_decode(z).float().clamp(-1, 1)
