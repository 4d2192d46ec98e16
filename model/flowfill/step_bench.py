"""What an MM-DiT training step costs on the GPU as the network grows: the price of capacity in
training time, beside its price on the user's machine (`npm run bench:dit-widths`, WASM).

One step = forward, backward and a fused AdamW update of the MM-DiT alone (the text encoder and the
latent bank cost the same for every variant), bf16 autocast as train.py, on `--batch` latents of
`--size`² (256 at 256² is one step of the 256² bucket) with 28 text tokens. Random weights: a
step's cost does not depend on the values (the AdaLN-Zero modulation is made non-zero so no
branch is skipped). Printed, never asserted:

  python3 -m flowfill.step_bench [--variants 5x10,8x10,10x10] [--compile] [--steps 10]

`--compile` adds the first variant under torch.compile (fixed shapes: the best case, since
training's 27 bucket shapes would need dynamic shapes), with its compile time. `--compile-dynamic`
runs the first variant under torch.compile(dynamic=True) through bucket shapes as training meets
them (TRAINING_SHAPES), each shape's first step (compile or recompile) and median printed.
"""
import argparse
import json
import time

import torch

from .mmdit import DIT_CONFIG, SD3Transformer2DModel
from .train import adamw, autocast

TEXT_TOKENS = 28
# (batch, latent height, latent width) of a few training buckets: 256² square and 1:4, 128² and 512².
TRAINING_SHAPES = ((256, 32, 32), (256, 16, 64), (1024, 16, 16), (64, 64, 64), (256, 40, 24))


def parse_variants(text: str) -> list[tuple[int, int]]:
    """'5x10,8x10' -> [(5, 10), (8, 10)]: heads (of width 32) x blocks."""
    out = []
    for part in text.split(","):
        heads, _, layers = part.partition("x")
        if not (heads.isdigit() and layers.isdigit()) or int(heads) < 1 or int(layers) < 2:
            raise ValueError(f"--variants {text!r}: each entry is <heads>x<blocks>, e.g. 5x10 (at least 2 blocks)")
        out.append((int(heads), int(layers)))
    return out


def variant_config(heads: int, layers: int) -> dict:
    width = heads * DIT_CONFIG["attention_head_dim"]
    return dict(DIT_CONFIG, num_attention_heads=heads, num_layers=layers, caption_projection_dim=width)


def build(heads: int, layers: int, device) -> SD3Transformer2DModel:
    dit = SD3Transformer2DModel(variant_config(heads, layers)).to(device)
    with torch.no_grad():
        for p in dit.parameters():
            if p.dim() >= 1 and not p.any():
                p.normal_(0, 0.02)
    return dit


def time_steps(dit, device, batch: int, latent_hw: tuple[int, int], steps: int, warmup: int = 3, opt=None) -> dict:
    """Median and mean ms of `steps` timed steps on `batch` latents of `latent_hw` after `warmup` untimed
    ones (the first includes any compile)."""
    cfg = dit.config if hasattr(dit, "config") else dit._orig_mod.config
    lh, lw = latent_hw
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn(batch, cfg["in_channels"], lh, lw, generator=gen, device=device)
    ctx = torch.randn(batch, TEXT_TOKENS, cfg["joint_attention_dim"], generator=gen, device=device)
    pooled = torch.randn(batch, cfg["pooled_projection_dim"], generator=gen, device=device)
    t = torch.rand(batch, generator=gen, device=device) * 1000
    target = torch.randn_like(x)
    opt = opt or adamw(list(dit.parameters()), 1e-4, device)
    cuda = torch.device(device).type == "cuda"

    def one():
        with autocast(device):
            v = dit(x, t, ctx, pooled)
        loss = torch.nn.functional.mse_loss(v.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync():
        if cuda:
            torch.cuda.synchronize()

    sync()
    t0 = time.perf_counter()
    one()
    sync()
    first = time.perf_counter() - t0
    for _ in range(warmup - 1):
        one()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        one()
        sync()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"first_step_s": round(first, 2), "median_ms": round(times[len(times) // 2] * 1000, 1),
            "mean_ms": round(sum(times) / len(times) * 1000, 1)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="5x10,8x10,10x10,12x10,5x16,8x16")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-dynamic", action="store_true")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args(argv)
    variants = parse_variants(a.variants)
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'CPU'}; "
          f"{a.batch} latents of {a.size}² + {TEXT_TOKENS} text tokens, bf16 autocast, fwd + bwd + fused AdamW", flush=True)
    latent = (a.size // 8, a.size // 8)
    rows = []
    for heads, layers in variants:
        dit = build(heads, layers, a.device)
        r = {"variant": f"{heads}x{layers}", "width": dit.inner_dim, "blocks": layers,
             "parameters_m": round(sum(p.numel() for p in dit.parameters()) / 1e6, 2),
             **time_steps(dit, a.device, a.batch, latent, a.steps)}
        rows.append(r)
        print(json.dumps(r), flush=True)
        del dit
    if a.compile:
        heads, layers = variants[0]
        dit = build(heads, layers, a.device)
        try:
            r = {"variant": f"{heads}x{layers} compiled", **time_steps(torch.compile(dit), a.device, a.batch, latent, a.steps)}
        except Exception as error:  # a failed compile is a result too
            r = {"variant": f"{heads}x{layers} compiled", "error": f"{type(error).__name__}: {str(error)[:300]}"}
        rows.append(r)
        print(json.dumps(r), flush=True)
    if a.compile_dynamic:
        heads, layers = variants[0]
        for compiled in (False, True) if hasattr(torch, "compile") else (False,):
            dit = build(heads, layers, a.device)
            opt = adamw(list(dit.parameters()), 1e-4, a.device)
            model = torch.compile(dit, dynamic=True) if compiled else dit
            for batch, lh, lw in TRAINING_SHAPES:
                try:
                    r = time_steps(model, a.device, batch, (lh, lw), a.steps, warmup=2, opt=opt)
                except Exception as error:
                    r = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
                print(json.dumps({"variant": f"{heads}x{layers}{' dynamic-compiled' if compiled else ' eager'}",
                                  "shape": [batch, lh, lw], **r}), flush=True)
    base = rows[0]["median_ms"]
    print("\n| variant | width | blocks | parameters | step (median) | vs first |\n|---|---|---|---|---|---|")
    for r in rows:
        if "median_ms" in r:
            print(f"| {r['variant']} | {r.get('width', '')} | {r.get('blocks', '')} | {r.get('parameters_m', '')} M | "
                  f"{r['median_ms']} ms | {r['median_ms'] / base:.2f}x |")


if __name__ == "__main__":
    main()
