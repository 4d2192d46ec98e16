"""Training stages: VAE -> latent statistics -> evaluation classifier -> text encoder + MM-DiT (jointly).

Every stage is resumable: the state (weights, EMA, progress, losses) is saved as split parts
(checkpoint.py) and the next call continues where the last stopped. Budgets are in seconds of
GPU wall time, cumulative over calls.
"""
import math
import time

import numpy as np
import torch
import torch.nn.functional as F

from .classifier import EmojiClassifier, train_classifier
from .data import EmojiData, bucket_size
from .mmdit import DIT_CONFIG, SD3Transformer2DModel
from .text_encoder import TEXT_CONFIG, CLIPTextModelWithProjection, sd3_conditioning
from .vae import VAE_CONFIG, AutoencoderKL

MAX_SEQUENCE_LENGTH = 8  # T5-zeros block length (no T5 here); exported in flowfill.json
CFG_DROPOUT = 0.1


def random_bucket(rng: np.random.Generator) -> tuple[int, int]:
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    return bucket_size(aspect)


def train_vae(data: EmojiData, seconds: float, log, batch: int = 48, seed: int = 1):
    torch.manual_seed(seed)
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    vae = AutoencoderKL(VAE_CONFIG).to(data.device)
    opt = torch.optim.AdamW(vae.parameters(), lr=6e-4, betas=(0.9, 0.99), weight_decay=0.0)
    start, step, hist = time.time(), 0, []
    while time.time() - start < seconds:
        h, w = random_bucket(rng)
        x = data.sample(batch, h, w, gen, rng).images
        lr = 6e-4 * min(1.0, (step + 1) / 200) * (0.1 + 0.9 * max(0.0, 1 - (time.time() - start) / seconds))
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast("cuda", dtype=torch.bfloat16):
            mean, logvar = vae.encode_moments(x)
            z = mean + torch.exp(0.5 * logvar.float()) * torch.randn_like(mean.float())
            rec = vae.decode(z).float()
        l1 = (rec - x).abs().mean()
        mse = F.mse_loss(rec, x)
        # Edge term keeps the flat emoji outlines crisp.
        grad = ((rec[..., 1:, :] - rec[..., :-1, :]) - (x[..., 1:, :] - x[..., :-1, :])).abs().mean() + (
            (rec[..., 1:] - rec[..., :-1]) - (x[..., 1:] - x[..., :-1])
        ).abs().mean()
        kl = 0.5 * (mean.float() ** 2 + logvar.float().exp() - 1 - logvar.float()).mean()
        loss = l1 + mse + 0.5 * grad + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 100 == 0:
            hist.append([step, round(l1.item(), 5), round(kl.item(), 4)])
            log(f"vae step {step} l1 {l1.item():.4f} mse {mse.item():.5f} kl {kl.item():.3f} {h}x{w}")
    vae.eval()
    log(f"vae: {step} steps in {time.time() - start:.0f}s")
    return vae, {"steps": step, "seconds": time.time() - start, "loss_history": hist}


def finetune_vae_decoder(vae: AutoencoderKL, data: EmojiData, seconds: float, log, batch: int = 32, seed: int = 3):
    """More decoder training with the encoder frozen: the latent space (and so the DiT trained on
    it) stays valid while reconstructions sharpen. One 256x256 shape keeps cuDNN from re-tuning."""
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    vae.encoder.requires_grad_(False)
    vae.decoder.requires_grad_(True).train()
    opt = torch.optim.AdamW(vae.decoder.parameters(), lr=3e-4, betas=(0.9, 0.99))
    start, step, hist = time.time(), 0, []
    while time.time() - start < seconds:
        for g in opt.param_groups:
            g["lr"] = 3e-4 * (0.1 + 0.9 * max(0.0, 1 - (time.time() - start) / seconds))
        x = data.sample(batch, 256, 256, gen, rng).images
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            mean, logvar = vae.encode_moments(x)
            z = mean.float() + torch.exp(0.5 * logvar.float()) * torch.randn(mean.shape, generator=gen, device=x.device)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            rec = vae.decode(z).float()
        l1 = (rec - x).abs().mean()
        grad = ((rec[..., 1:, :] - rec[..., :-1, :]) - (x[..., 1:, :] - x[..., :-1, :])).abs().mean() + (
            (rec[..., 1:] - rec[..., :-1]) - (x[..., 1:] - x[..., :-1])
        ).abs().mean()
        loss = l1 + F.mse_loss(rec, x) + 0.5 * grad
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.decoder.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 200 == 0:
            hist.append([step, round(l1.item(), 5)])
            log(f"vae decoder fine-tune step {step} l1 {l1.item():.4f}")
    vae.eval().requires_grad_(False)
    log(f"vae decoder fine-tune: {step} steps in {time.time() - start:.0f}s")
    return {"steps": step, "seconds": time.time() - start, "loss_history": hist}


@torch.no_grad()
def latent_statistics(vae: AutoencoderKL, data: EmojiData, batches: int = 24, seed: int = 2):
    """SD3-style shift_factor (mean) and scaling_factor (1/std) of the latents, plus a 16x3
    least-squares latent->RGB fit on model-space latents ((z - shift) * scale) for previews."""
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    zs, imgs, recon_l1 = [], [], []
    for _ in range(batches):
        h, w = random_bucket(rng)
        x = data.sample(64, h, w, gen, rng).images
        mean, logvar = vae.encode_moments(x)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        recon_l1.append((vae.decode(mean) - x).abs().mean().item())
        zs.append(z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]))
        imgs.append(F.avg_pool2d(x, 8).permute(0, 2, 3, 1).reshape(-1, 3))
    z = torch.cat(zs).double()
    shift = z.mean().item()
    scale = 1.0 / z.std().item()
    zm = (z - shift) * scale
    a = torch.cat([zm, torch.ones(zm.shape[0], 1, dtype=torch.float64, device=zm.device)], 1)
    sol = torch.linalg.lstsq(a.cpu(), torch.cat(imgs).double().cpu()).solution  # [17,3]
    pred = a.cpu() @ sol
    rgb_err = (pred - torch.cat(imgs).double().cpu()).abs().mean().item()
    return {
        "shift_factor": shift,
        "scaling_factor": scale,
        "latent_rgb_factors": sol[:16].tolist(),
        "latent_rgb_bias": sol[16].tolist(),
        "latent_rgb_fit_mae": rgb_err,
        "recon_l1_mean_latent": float(np.mean(recon_l1)),
        "per_channel_std": (z.std(0) * scale).tolist(),
    }


def build_models(vocab_size: int, device):
    te_cfg = dict(TEXT_CONFIG, vocab_size=vocab_size)
    te = CLIPTextModelWithProjection(te_cfg).to(device)
    dit = SD3Transformer2DModel(DIT_CONFIG).to(device)
    return te, dit


def _ema_update(ema_params, params, decay):
    torch._foreach_lerp_(ema_params, params, 1 - decay)


def train_dit(state: dict, data: EmojiData, vae: AutoencoderKL, seconds: float, total_seconds: float, log, batch: int = 256):
    """Joint text-encoder + MM-DiT rectified-flow training; returns updated state entries."""
    dev = data.device
    te, dit = build_models(len(data.tokenizer), dev)
    te_ema, dit_ema = build_models(len(data.tokenizer), dev)
    step0 = state.get("dit_steps", 0)
    if "dit" in state:
        dit.load_state_dict({k: v.float() for k, v in state["dit"].items()})
        te.load_state_dict({k: v.float() for k, v in state["te"].items()})
        dit_ema.load_state_dict(state["dit_ema"])
        te_ema.load_state_dict(state["te_ema"])
    else:
        dit_ema.load_state_dict(dit.state_dict())
        te_ema.load_state_dict(te.state_dict())
    for m in (te_ema, dit_ema):
        m.requires_grad_(False)
    params = list(dit.parameters()) + list(te.parameters())
    ema_params = list(dit_ema.parameters()) + list(te_ema.parameters())
    opt = torch.optim.AdamW(params, lr=4e-4, betas=(0.9, 0.99), weight_decay=0.01)
    stats = state["latent_stats"]
    shift, scale = stats["shift_factor"], stats["scaling_factor"]
    gen = torch.Generator(device=dev).manual_seed(1000 + step0)
    rng = np.random.default_rng(1000 + step0)
    cfg = dit.config
    hist = state.get("dit_loss_history", [])
    elapsed0 = state.get("dit_seconds", 0.0)
    start, step, run_loss = time.time(), step0, []
    warm = 300 if step0 == 0 else 100  # Adam moments restart on resume
    while True:
        now = time.time() - start
        if now >= seconds or elapsed0 + now >= total_seconds:
            break
        progress = (elapsed0 + now) / total_seconds
        lr = 4e-4 * min(1.0, (step - step0 + 1) / warm) * (0.15 + 0.85 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0))))
        for g in opt.param_groups:
            g["lr"] = lr
        h, w = random_bucket(rng)
        b = data.sample(batch, h, w, gen, rng)
        captions = ["" if rng.random() < CFG_DROPOUT else c for c in b.captions]
        ids = data.tokenize(captions)
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            mean, logvar = vae.encode_moments(b.images)
            z = mean.float() + torch.exp(0.5 * logvar.float()) * torch.randn(mean.shape, generator=gen, device=dev)
        x0 = (z - shift) * scale
        noise = torch.randn(x0.shape, generator=gen, device=dev)
        t = torch.sigmoid(torch.randn(batch, generator=gen, device=dev))  # logit-normal(0, 1)
        xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * noise
        with torch.autocast("cuda", dtype=torch.bfloat16):
            ctx, pooled = sd3_conditioning(te, ids, cfg["joint_attention_dim"], MAX_SEQUENCE_LENGTH)
            v = dit(xt, t * 1000, ctx, pooled)
        loss = F.mse_loss(v.float(), noise - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        decay = min(0.999, (1 + step) / (10 + step))
        with torch.no_grad():
            _ema_update(ema_params, params, decay)
        run_loss.append(loss.item() if step % 25 == 0 else None)
        if step % 250 == 0:
            vals = [x for x in run_loss if x is not None]
            hist.append([step, round(float(np.mean(vals)), 5), round(elapsed0 + time.time() - start, 1)])
            run_loss = []
            log(f"dit step {step} loss {hist[-1][1]:.4f} lr {lr:.2e} {h}x{w} {(time.time() - start) / max(step - step0, 1) * 1000:.0f} ms/step")
    seconds_used = time.time() - start
    log(f"dit: steps {step0} -> {step}, {seconds_used:.0f}s this call, {elapsed0 + seconds_used:.0f}s total")
    return {
        "dit": {k: v.to(torch.bfloat16) for k, v in dit.state_dict().items()},
        "te": {k: v.to(torch.bfloat16) for k, v in te.state_dict().items()},
        "dit_ema": dit_ema.state_dict(),
        "te_ema": te_ema.state_dict(),
        "dit_steps": step,
        "dit_seconds": elapsed0 + seconds_used,
        "dit_loss_history": hist,
        "dit_batch": batch,
    }


def load_trained(state: dict, data: EmojiData):
    """EMA text encoder, MM-DiT, VAE and classifier from a state, in eval mode, fp32."""
    dev = data.device
    vae = AutoencoderKL(dict(VAE_CONFIG)).to(dev)
    vae.load_state_dict(state["vae"])
    te, dit = build_models(len(data.tokenizer), dev)
    te.load_state_dict(state["te_ema"])
    dit.load_state_dict(state["dit_ema"])
    clf = EmojiClassifier(data.num_subjects, len(data.styles)).to(dev)
    clf.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state["classifier"].items()})
    for m in (vae, te, dit, clf):
        m.eval().requires_grad_(False)
    return vae, te, dit, clf


__all__ = ["train_vae", "latent_statistics", "train_classifier", "train_dit", "load_trained", "MAX_SEQUENCE_LENGTH"]
