"""The decoder's edges: train a state's VAE decoder on with a heavier edge term, its encoder frozen.

Session 47 found a third to a half of the drawings' softness in the VAE's round trip alone (the renders' blur effect
0.39 -> 0.42 on emoji, 0.32 -> 0.36 on icons, at ~40 dB). The encoder, and so every latent, stays exactly as it is:
the transformer and the latent statistics remain valid, and only how latents become pixels changes. The loss is
train_vae's (L1 + MSE + edge L1 on the finite differences) with the edge term weighted `--edge` instead of 0.5, on
latents noised as the DiT's are imperfect (sigma up to `--latent-noise` of their spread, 0.1 as in train_vae's last
third), at both native sizes and every aspect bucket. Before and after, the round trip is measured on the held-out
sets' renders (PSNR and blur effect, vae_probe's); the new state (package + extras + judge) is written like any
other, with `decoder_tuned` recording both. Whether the drawings get crisper is then a paired `sampler_check` of the
same transformer and noise (`--decoder`).

A heavier edge term alone left the round trip as soft as it was (session 47), so the decoder can also grow where it
draws edges: `--widen C` makes its full-resolution stage C channels wide and `--full-res-blocks N` N residual blocks
deep, starting as exactly the decoder it was (`widened`). `--decoder-only` writes OUT/decoder.pt (the decoder and its
config, ~3 MB) instead of a whole state, for `sampler_check --decoder` on the GPU; `--graft decoder.pt` makes the
whole state from it here, without training. (Session 48: neither growth nor ~17x the training sharpened it.)

  python3 -m flowfill.decoder_tune OUT STATE [--seconds 600] [--edge 2] [--batch 16] [--crop 128] [--lr 2e-4] \
      [--latent-noise 0.1] [--widen C] [--full-res-blocks N] [--decoder-only | --graft decoder.pt]
"""
import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from . import resume
from .data import FlowfillData
from .evaluate import blur_results
from .quantize import dequantize, quantize_per_channel
from .train import reconstruction_loss, snap_to_int8, vae_training_window, warm_cosine
from .vae import AutoencoderKL, decoder_channels
from .vae_probe import round_trip_images

HELD_OUT_SETS = ("v1_emoji", "icons")


@torch.no_grad()
def widened(vae: AutoencoderKL, channels: int, blocks: int) -> AutoencoderKL:
    """A copy of `vae` whose decoder's full-resolution stage is `channels` wide and `blocks` residual blocks deep, and
    which decodes exactly as `vae` does: every old weight is kept, the old channels read nothing from the new ones
    (those weights are zero), the new channels start at the layers' own initialisation, and new blocks start as
    identities (ResBlock's zero second convolution). Training then opens the new paths; train before exporting, since
    the exporter folds an all-zero convolution away and such a package does not read back."""
    cfg = dict(vae.config)
    old_ch, layers = decoder_channels(cfg), list(cfg["decoder_layers_per_block"])
    if channels < old_ch[0] or blocks < layers[0]:
        raise ValueError(f"--widen {channels} --full-res-blocks {blocks}: the decoder's full-resolution stage is already "
                         f"{old_ch[0]} wide and {layers[0]} deep; it can only grow")
    cfg["decoder_block_out_channels"] = [channels] + old_ch[1:]
    cfg["decoder_layers_per_block"] = [blocks] + layers[1:]
    device = next(vae.parameters()).device
    new = AutoencoderKL(cfg).to(device)
    new.encoder.load_state_dict(vae.encoder.state_dict())
    old = vae.decoder.state_dict()
    for key, t in new.decoder.state_dict().items():
        if key not in old:
            continue  # a new block: its own initialisation is the identity
        o = old[key]
        if o.shape == t.shape:
            t.copy_(o)
            continue
        # [out, in, ...]: the old outputs keep their weights and ignore the new inputs; pixel_shuffle maps output
        # channel c to rows 4c..4c+3, so the old channels' rows of the up-sampling convolution are its first ones.
        t[tuple(slice(0, n) for n in o.shape)] = o
        if t.dim() > 1 and t.shape[1] > o.shape[1]:
            t[: o.shape[0], o.shape[1]:] = 0
    return new.eval().requires_grad_(False)


def _packed(t: torch.Tensor):
    """A weight on its per-output-channel int8 grid (as snap_to_int8 leaves it) as its codes and scales, exactly;
    anything else as it is. A decoder is then ~3 MB, and a call's returned files hold several."""
    w = t.detach().cpu().float()
    if w.dim() >= 2:
        q, scale = quantize_per_channel(w.numpy(), 0)
        if np.array_equal(dequantize(q, scale, 0), w.numpy()):
            return {"int8": torch.from_numpy(q), "scale": torch.from_numpy(scale)}
    return w


def _unpacked(v) -> torch.Tensor:
    return torch.from_numpy(dequantize(v["int8"].numpy(), v["scale"].numpy(), 0)) if isinstance(v, dict) else v


def save_decoder(path, vae: AutoencoderKL, record: dict) -> None:
    torch.save({"config": vae.config, "decoder": {k: _packed(v) for k, v in vae.decoder.state_dict().items()},
                "decoder_tuned": record}, path)


def load_decoder(path, vae: AutoencoderKL) -> AutoencoderKL:
    """`vae`'s encoder with the decoder saved in `path` (save_decoder's), on `vae`'s device. The encoders must agree:
    a decoder trained against other latents would draw nonsense, so that is refused."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    cfg = saved["config"]
    keys = ("block_out_channels", "encoder_layers_per_block", "latent_channels", "in_channels")
    if any(cfg.get(k) != vae.config.get(k) for k in keys):
        raise ValueError(f"{path}: its decoder was trained against another encoder "
                         f"({ {k: cfg.get(k) for k in keys} } vs { {k: vae.config.get(k) for k in keys} })")
    new = AutoencoderKL(cfg).to(next(vae.parameters()).device)
    new.encoder.load_state_dict(vae.encoder.state_dict())
    new.decoder.load_state_dict({k: _unpacked(v) for k, v in saved["decoder"].items()})
    return new.eval().requires_grad_(False)


@torch.no_grad()
def round_trip(vae, data: FlowfillData, set_name: str, size: int = 256, batch: int = 20) -> dict:
    """The held-out set's renders through the VAE: mean PSNR (dB, on [0, 1]) and the blur effect of both sides."""
    renders, decoded, psnr = round_trip_images(vae, data, data.eval_sets[set_name], size, batch)
    return {"n": len(renders), "psnr": round(float(np.mean(psnr)), 2),
            "blur_renders": round(float(np.mean(blur_results(renders)["blur_effect"])), 4),
            "blur_round_trip": round(float(np.mean(blur_results(decoded)["blur_effect"])), 4)}


def tune_decoder(vae, data: FlowfillData, seconds: float, edge: float = 2.0, batch: int = 16, crop: int = 128,
                 lr: float = 2e-4, latent_noise: float = 0.1, seed: int = 1, log=print, max_steps: int | None = None) -> dict:
    """Trains vae.decoder in place (the encoder frozen); returns the run's summary. The decoder ends on int8 values,
    as the package holds it."""
    dev = data.device
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev).manual_seed(seed)
    rng = np.random.default_rng(seed)
    vae.requires_grad_(False)
    vae.decoder.requires_grad_(True).train()
    vae.encoder.eval()
    params = [p for p in vae.decoder.parameters()]
    opt = torch.optim.AdamW(params, lr, betas=(0.9, 0.99), weight_decay=0.0)
    start, step, hist = time.time(), 0, []
    while time.time() - start < seconds and (max_steps is None or step < max_steps):
        frac = min(1.0, (time.time() - start) / seconds)
        if max_steps:
            frac = max(frac, step / max_steps)
        for g in opt.param_groups:  # a short warm-up: the decoder starts trained
            g["lr"] = warm_cosine(lr, step, frac, warmup=50)
        x, c, h, w = vae_training_window(data, rng, gen, step, batch, crop)
        with torch.no_grad():
            mean, logvar = vae.encode_moments(x)
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=gen, device=dev)
            sigma = latent_noise * mean.std() * torch.rand(batch, 1, 1, 1, generator=gen, device=dev)
            z = z + sigma * torch.randn(z.shape, generator=gen, device=dev)
        rec = vae.decode(z).float()
        loss, l1, mse, edges = reconstruction_loss(rec, x, edge)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % 50 == 0:
            hist.append([step, round(l1.item(), 5), round(edges.item(), 5), round(10 * math.log10(4 / max(mse.item(), 1e-10)), 2)])
            log(f"decoder step {step} l1 {l1.item():.4f} edge {edges.item():.4f} psnr {hist[-1][3]:.2f} ({c}px of {h}x{w})")
    vae.requires_grad_(False).eval()
    snapped = snap_to_int8(vae.decoder)
    return {"steps": step, "seconds": round(time.time() - start, 1), "edge_weight": edge, "batch": batch, "crop": crop,
            "lr": lr, "latent_noise": latent_noise, "int8_tensors": snapped, "loss_history": hist}


def tune_state(out, folder, data: FlowfillData, log=print, widen: int | None = None, full_res_blocks: int | None = None,
               decoder_only: bool = False, graft: str | None = None, **kw) -> dict:
    """Writes `folder`'s state with its decoder tuned (or grafted from `graft`) to `out`, or with `decoder_only` just
    out/decoder.pt; returns `decoder_tuned` (the run and both round trips)."""
    from .export import export_like

    state = resume.load(folder, data, data.device.type, log=log)
    if "dit" not in state:
        raise ValueError(f"{folder}: the state has no package to tune the decoder of")
    vae = state["vae"]
    before = {s: round_trip(vae.eval(), data, s) for s in HELD_OUT_SETS}
    log(f"round trip before: {json.dumps(before)}")
    if graft:
        vae = load_decoder(graft, vae)
        run = {"grafted_from": str(graft)}
    else:
        if widen or full_res_blocks:
            layers = vae.config["decoder_layers_per_block"]
            vae = widened(vae, widen or decoder_channels(vae.config)[0], full_res_blocks or layers[0])
        run = tune_decoder(vae, data, log=log, **kw)
    run["decoder_full_res"] = {"channels": decoder_channels(vae.config)[0], "blocks": vae.config["decoder_layers_per_block"][0]}
    after = {s: round_trip(vae, data, s) for s in HELD_OUT_SETS}
    log(f"round trip after: {json.dumps(after)}")
    record = dict(run, tuned_from=str(folder), round_trip_before=before, round_trip_after=after)
    if decoder_only:
        Path(out).mkdir(parents=True, exist_ok=True)
        save_decoder(Path(out) / "decoder.pt", vae, record)
        return record
    state = dict(state, vae=vae, decoder_tuned=record)
    export_like(Path(out) / "package", folder, data, vae=vae, te=state["te"], dit=state["dit"], stats=state["latent_stats"],
                training_extra={"decoder_tuned": {k: v for k, v in record.items() if k != "loss_history"}}, log=log)
    resume.save(out, state, data)
    return record


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the new state's folder (package/, extras.json, classifier.npz)")
    ap.add_argument("state", help="the state whose decoder is trained on")
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--edge", type=float, default=2.0, help="the edge term's weight (train_vae's is 0.5)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--latent-noise", type=float, default=0.1,
                    help="the most noise added to a latent, as a fraction of the latents' spread (train_vae's 0.1)")
    ap.add_argument("--widen", type=int, help="the decoder's full-resolution stage this many channels wide (now 32)")
    ap.add_argument("--full-res-blocks", type=int, help="and this many residual blocks deep (now 1)")
    ap.add_argument("--decoder-only", action="store_true", help="write OUT/decoder.pt alone, not a whole state")
    ap.add_argument("--graft", help="a decoder.pt to put in the state as it is (no training)")
    ap.add_argument("--data", default=".cache/data")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    data = FlowfillData(a.data, a.device)
    if a.graft and (a.widen or a.full_res_blocks or a.decoder_only):
        ap.error("--graft takes the decoder as it is: no --widen, --full-res-blocks or --decoder-only")
    tune_state(a.out, a.state, data, seconds=a.seconds, edge=a.edge, batch=a.batch, crop=a.crop, lr=a.lr,
               latent_noise=a.latent_noise, widen=a.widen, full_res_blocks=a.full_res_blocks,
               decoder_only=a.decoder_only, graft=a.graft)


if __name__ == "__main__":
    main()
