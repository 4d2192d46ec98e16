"""The products WASM users' images are drawn with, emulated in PyTorch.

On WASM the engine multiplies every int8 Linear weight of the transformer by onnxruntime's com.microsoft
DynamicQuantizeMatMul (worker/engine/sd3/int8-matmul.ts): each call rounds its whole activation tensor to
uint8 with one scale and zero point, taken from the tensor's range widened to include 0, then multiplies
integers exactly. The weights themselves are already the int8 values (times per-channel scales) the package
stores, so rounding each such Linear's input the same way reproduces each product's arithmetic.

Over the whole transformer the rounding is chaotic: a change of 1e-6 in the latents moves the int8 products'
output by ~1 % (the exact products' by 1e-6), so float summation order alone decides which values round which
way, and these images are the engine's in distribution, not pixel for pixel (model/README.md, "Session 45").
What it is for: `sampler_check --int8-products` judges the pictures WASM users get, not only the exact products
WebGPU runs; the two depart at single images (compare-packages reads PSNR 24-46 dB between them), and whether
that moves what the judge recognises is a question of rates, not of pixels.

The engine draws one image a call: with guidance, [uncond, cond] at batch 2, so one scale covers that pair;
without, the image alone. The PyTorch sampler draws many images a call ([uncond × B, cond × B]), so the scale
here is taken per image (pair), as the engine would take it.
"""
from contextlib import contextmanager

import torch

from .train import LINEAR_MIN


def int8_linears(dit: torch.nn.Module) -> list[torch.nn.Linear]:
    """The Linears whose weights the package stores as int8 (the rule train.snap_to_int8 and the export share)."""
    return [m for m in dit.modules() if isinstance(m, torch.nn.Linear) and m.weight.numel() >= LINEAR_MIN]


def round_like_dynamic_quantize(x: torch.Tensor, groups: int) -> torch.Tensor:
    """x rounded to uint8 levels and back, one scale per image: x's leading dimension is [`groups` × images]
    (groups 2: [uncond images, cond images] as the sampler batches guidance; 1: the images alone).

    As onnxruntime's GetQuantizationParameter and MlasQuantizeLinear: range [min(x, 0), max(x, 0)], scale =
    range / 255 (1 for an all-zero range), zero point and values rounded half to even, values clamped to 0..255."""
    images = x.shape[0] // groups
    v = x.float().reshape(groups, images, -1)
    lo = v.amin(dim=(0, 2)).clamp(max=0)
    hi = v.amax(dim=(0, 2)).clamp(min=0)
    scale = torch.where(hi > lo, (hi - lo) / 255, torch.ones_like(hi))
    zero_point = torch.round((-lo / scale).clamp(0, 255))
    scale, zero_point = scale.view(1, images, 1), zero_point.view(1, images, 1)
    q = (torch.round(v / scale) + zero_point).clamp(0, 255)
    return ((q - zero_point) * scale).reshape(x.shape).to(x.dtype)


@contextmanager
def dynamic_int8_products(dit: torch.nn.Module, guided: bool):
    """Within it, every int8 Linear of `dit` rounds its input as DynamicQuantizeMatMul does; `guided`: the
    transformer is called on [uncond, cond] batches (sampling.guided)."""
    groups = 2 if guided else 1

    def round_input(_module, args):
        return (round_like_dynamic_quantize(args[0], groups), *args[1:])

    handles = [m.register_forward_pre_hook(round_input) for m in int8_linears(dit)]
    try:
        yield len(handles)
    finally:
        for h in handles:
            h.remove()
