"""What an MM-DiT training step costs on the GPU as the network grows: the price of capacity in
training time, beside its price on the user's machine (`npm run bench:dit-widths`, WASM).

One step = forward, backward and a fused AdamW update of the MM-DiT alone (the text encoder and the
latent bank cost the same for every variant), bf16 autocast as train.py, on `--batch` latents of
`--size`² (256 at 256² is one step of the 256² bucket) with 28 text tokens. Random weights: a
step's cost does not depend on the values (the AdaLN-Zero modulation is made non-zero so no
branch is skipped). Printed, never asserted:

  python3 -m flowfill.step_bench [--variants 5x10,8x10,10x10] [--compile] [--cuda-graphs] [--steps 10]

`--compile` adds the first variant under torch.compile (fixed shapes: the best case, since
training's 27 bucket shapes would need dynamic shapes), with its compile time. `--compile-dynamic`
runs the first variant under torch.compile(dynamic=True) through bucket shapes as training meets
them (TRAINING_SHAPES), each shape's first step (compile or recompile) and median printed.
`--cuda-graphs` runs the first variant with its text encoder as training does, eagerly and replayed from
CUDA graphs (train.GraphedForward, run.py --cuda-graphs), from the same weights on the same inputs,
through TRAINING_SHAPES in turn: each shape's first step (for the graphs, their capture) and median,
and how far apart the copies' weights are at the end, beside two eager copies' drift; then the same
for a distillation teacher's forward without gradients.
"""
import argparse
import copy
import json
import statistics
import time

import torch
import torch.nn.functional as F

from .mmdit import DIT_CONFIG, SD3Transformer2DModel
from .text_encoder import TEXT_CONFIG, CLIPTextModelWithProjection
from .train import Bf16Forward, GraphedForward, adamw, autocast

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


def graphs_against_eager(heads: int, layers: int, device, steps: int, shapes=TRAINING_SHAPES, vocab: int = 4045) -> list[dict]:
    """Training steps (text encoder + MM-DiT forward, backward, clipping, AdamW) eagerly and from CUDA graphs,
    copies of one model on the same inputs, shapes in turn; per shape and form the first step and the median. A
    second eager copy is the control: how far two eager runs drift apart by themselves (cuDNN's attention
    backward and atomic reductions are not bitwise repeatable, and Adam magnifies any difference in a gradient
    near zero to a step of the learning rate's size). Then a distillation teacher's forward without gradients,
    eager against graphed, on the same shapes at twice the batch (guidance's two halves)."""
    if torch.device(device).type != "cuda":
        raise ValueError("--cuda-graphs needs a CUDA device")
    te = CLIPTextModelWithProjection(dict(TEXT_CONFIG, vocab_size=vocab)).to(device)
    dit = build(heads, layers, device)
    forms = {}
    for name in ("eager", "graphs", "eager again"):
        form_te, form_dit = copy.deepcopy(te), copy.deepcopy(dit)
        params = list(form_dit.parameters()) + list(form_te.parameters())
        forward = Bf16Forward(form_dit, form_te)
        forms[name] = (GraphedForward(forward) if name == "graphs" else forward, params, adamw(params, 1e-4, device))
    gen = torch.Generator(device=device).manual_seed(0)
    times: dict = {(name, shape): [] for name in forms for shape in shapes}
    first_losses = {}
    for i in range(steps * len(shapes)):
        shape = shapes[i % len(shapes)]
        batch, lh, lw = shape
        x = torch.randn(batch, dit.config["in_channels"], lh, lw, generator=gen, device=device)
        t = torch.rand(batch, generator=gen, device=device) * 1000
        ids = torch.randint(0, vocab, (batch, TEXT_CONFIG["max_position_embeddings"]), generator=gen, device=device)
        target = torch.randn(x.shape, generator=gen, device=device)
        for name, (forward, params, opt) in forms.items():

            def step():
                v, pooled = forward(x, t, ids)
                # The pooled features get a gradient too, as the text loss gives them in training.
                loss = F.mse_loss(v.float(), target) + 0.05 * pooled.float().pow(2).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                return loss

            loss = timed(step, times[name, shape])
            if i == 0:
                first_losses[name] = loss.item()

    def apart(a: str, b: str) -> float:
        return max((p - q).abs().max().item() for p, q in zip(forms[a][1], forms[b][1]))

    rows = [timing_row(f"{heads}x{layers} + text encoder, training", shape, times["eager", shape], times["graphs", shape])
            for shape in shapes]
    rows.append({"first_step_loss": first_losses, "weights_apart_max_abs": apart("eager", "graphs"),
                 "control_eager_runs_apart_max_abs": apart("eager", "eager again"), "steps_per_shape": steps})
    rows += teacher_graphs_against_eager(dit, device, steps, shapes, gen)
    return rows


def teacher_graphs_against_eager(dit, device, steps: int, shapes, gen) -> list[dict]:
    """A frozen MM-DiT's forward without gradients (the distillation teacher's), eager and graphed, at twice each
    shape's batch; per shape the timings and the largest difference of the two outputs."""
    teacher = copy.deepcopy(dit).requires_grad_(False)
    eager, graphed = Bf16Forward(teacher), GraphedForward(Bf16Forward(teacher))
    cfg = teacher.config
    rows = []
    with torch.no_grad():
        for batch, lh, lw in shapes:
            n = 2 * batch
            args = (torch.randn(n, cfg["in_channels"], lh, lw, generator=gen, device=device),
                    torch.rand(n, generator=gen, device=device) * 1000,
                    torch.randn(n, TEXT_TOKENS, cfg["joint_attention_dim"], generator=gen, device=device),
                    torch.randn(n, cfg["pooled_projection_dim"], generator=gen, device=device))
            times: dict = {"eager": [], "graphs": []}
            diff = scale = 0.0
            for _ in range(steps):
                outputs = {}
                for name, forward in (("eager", eager), ("graphs", graphed)):
                    outputs[name] = timed(lambda: forward(*args).float(), times[name])  # noqa: B023 (called at once)
                diff = max(diff, (outputs["eager"] - outputs["graphs"]).abs().max().item())
                scale = max(scale, outputs["eager"].abs().max().item())
            row = timing_row(f"{cfg['num_layers']} blocks, teacher forward", (n, lh, lw), times["eager"], times["graphs"])
            rows.append({**row, "outputs_apart_max_abs": diff, "outputs_scale": scale})
    return rows


def graphs_verdict(rows: list[dict], min_speedup: float = 1.1, loss_rtol: float = 1e-4, teacher_rtol: float = 1e-2,
                   teacher_min_speedup: float = 0.95) -> tuple[bool, str]:
    """Whether graphs_against_eager's rows support training with --cuda-graphs on this machine: every training
    shape faster graphed by `min_speedup`, the first training step's loss the same, and the teacher's graphed
    forward the same as its eager one within `teacher_rtol` of the output's scale and not slower. The teacher's
    no-gradient forward is not held to `min_speedup`: at a distilling batch it is bound by arithmetic, not by
    launches, so graphs buy it ~5 % (session 23), and the training step is what the verdict is for. The weights'
    drift after many steps is not a criterion (Adam magnifies last-bit differences; the eager control shows how
    much); it is reported."""
    teacher = [r for r in rows if "outputs_apart_max_abs" in r]
    training = [r for r in rows if "speedup" in r and "outputs_apart_max_abs" not in r]
    slow = [r["shape"] for r in training if r["speedup"] < min_speedup]
    if not training or slow:
        return False, f"not faster than {min_speedup}x at {slow or 'any shape'}"
    [summary] = [r for r in rows if "first_step_loss" in r]
    eager, graphs = summary["first_step_loss"]["eager"], summary["first_step_loss"]["graphs"]
    if abs(eager - graphs) > loss_rtol * abs(eager):
        return False, f"first step's loss {graphs} graphed against {eager} eager"
    for r in teacher:
        if r["outputs_apart_max_abs"] > teacher_rtol * r["outputs_scale"]:
            return False, f"teacher forward at {r['shape']} {r['outputs_apart_max_abs']:.3g} apart (scale {r['outputs_scale']:.3g})"
        if r["speedup"] < teacher_min_speedup:
            return False, f"teacher forward slower graphed ({r['speedup']}x) at {r['shape']}"
    return True, (f"{min(r['speedup'] for r in training):.2f}-{max(r['speedup'] for r in training):.2f}x; weights after training "
                  f"{summary['weights_apart_max_abs']:.2g} apart, two eager runs {summary['control_eager_runs_apart_max_abs']:.2g}")


def timed(work, times: list[float]):
    """work()'s result; its GPU-synchronised wall time in ms appended to `times`."""
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    result = work()
    torch.cuda.synchronize()
    times.append((time.perf_counter() - t0) * 1000)
    return result


def timing_row(what: str, shape, eager: list[float], graphs: list[float]) -> dict:
    return {"variant": what, "shape": list(shape),
            "eager_first_ms": round(eager[0], 1), "eager_median_ms": round(statistics.median(eager[1:]), 1),
            "graphs_first_ms": round(graphs[0], 1), "graphs_median_ms": round(statistics.median(graphs[1:]), 1),
            "speedup": round(statistics.median(eager[1:]) / statistics.median(graphs[1:]), 2)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variants", default="5x10,8x10,10x10,12x10,5x16,8x16")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--compile-dynamic", action="store_true")
    ap.add_argument("--cuda-graphs", action="store_true")
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
    if a.cuda_graphs:
        heads, layers = variants[0]
        graph_rows = graphs_against_eager(heads, layers, a.device, max(a.steps, 2))
        for r in graph_rows:
            print(json.dumps(r), flush=True)
        ok, why = graphs_verdict(graph_rows)
        # gpu-slice.sh CUDA_GRAPHS=auto reads this line.
        print(f"cuda-graphs verdict: {'use' if ok else 'do not use'} ({why})", flush=True)
    base = rows[0]["median_ms"]
    print("\n| variant | width | blocks | parameters | step (median) | vs first |\n|---|---|---|---|---|---|")
    for r in rows:
        if "median_ms" in r:
            print(f"| {r['variant']} | {r.get('width', '')} | {r.get('blocks', '')} | {r.get('parameters_m', '')} M | "
                  f"{r['median_ms']} ms | {r['median_ms'] / base:.2f}x |")


if __name__ == "__main__":
    main()
