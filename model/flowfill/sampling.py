"""Flow-matching Euler sampling exactly as diffusers' FlowMatchEulerDiscreteScheduler (static shift)
and StableDiffusion3Pipeline do it, used for evaluation (the TypeScript engine does the same)."""
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


@torch.no_grad()
def generate(dit, text_encoder, vae_decode, input_ids, uncond_ids, height, width, *, steps, guidance, shift,
             scaling_factor, shift_factor, max_sequence_length, generator, dtype=torch.float32):
    """Images [B,3,H,W] in [-1,1] for tokenised prompts (B rows) with CFG against uncond_ids (1 row)."""
    cfg = dit.config
    b = input_ids.shape[0]
    dev = input_ids.device
    ctx, pooled = sd3_conditioning(text_encoder, input_ids, cfg["joint_attention_dim"], max_sequence_length)
    uctx, upooled = sd3_conditioning(text_encoder, uncond_ids.expand(b, -1), cfg["joint_attention_dim"], max_sequence_length)
    latents = torch.randn(b, cfg["in_channels"], height // 8, width // 8, generator=generator, device=dev)
    sigmas = flow_match_sigmas(steps, shift)
    use_cfg = guidance > 1
    for i in range(steps):
        t = torch.full((b,), float(np.float32(sigmas[i] * 1000)), device=dev)
        with torch.autocast("cuda", dtype=dtype, enabled=dtype != torch.float32):
            if use_cfg:
                v = dit(torch.cat([latents, latents]), torch.cat([t, t]), torch.cat([uctx, ctx]), torch.cat([upooled, pooled])).float()
                vu, vc = v.chunk(2)
                v = vu + guidance * (vc - vu)
            else:
                v = dit(latents, t, ctx, pooled).float()
        latents = latents + float(sigmas[i + 1] - sigmas[i]) * v
    z = latents / scaling_factor + shift_factor
    return vae_decode(z).clamp(-1, 1)
