"""Three operations whose ONNX form matters, written once for PyTorch and for export.

In PyTorch they are plain functions. Under torch.onnx.export (the TorchScript exporter, opset 17,
PyTorch 1.13 to 2.x) each becomes one fused node that onnxruntime runs on its CPU/WASM and WebGPU
execution providers, instead of the dozens of Reshape/Transpose/Softmax nodes the decomposed form
exports to (every node is a kernel launch, and WASM pays per launch):

- `attention(q, k, v, heads)`  -> com.microsoft MultiHeadAttention (q, k, v as [B, S, heads*dim]),
  only when EXPORT["fused_attention"] is set. It is off: onnxruntime-web 1.30's WebGPU kernel for
  it returned wrong numbers in Chromium/SwiftShader for every head size >= 16 we tried (max error
  0.5-0.9 on outputs of magnitude ~1, WASM exact; test/model/package-webgpu.test.ts runs the packages
  on WebGPU), and the decomposed MatMul -> Softmax -> MatMul form costs the same on WASM (measured
  within noise at 256²). The engine bounds the unfused score tensor [B, heads, S, S] by the
  adapter's binding size (45 MB at the native 512² with CFG).
- `rms_norm(x, weight, eps)`    -> SimplifiedLayerNormalization (RMS norm over the last axis).
- `gelu_tanh(x)`                -> com.microsoft FastGelu (the tanh approximation).

Contrib-op signatures:
https://github.com/microsoft/onnxruntime/blob/v1.20.0/docs/ContribOperators.md
"""
import math

import torch
import torch.nn.functional as F

CUSTOM_OPSETS = {"com.microsoft": 1, "flowfill": 1}
# SimplifiedLayerNormalization lives in onnxruntime's registration of the default ONNX domain, which
# the exporter's checker refuses for a non-standard op name; it is emitted in a placeholder domain
# and moved back by `restore_default_domain` after export.
_PLACEHOLDER_DOMAIN = "flowfill"


EXPORT = {"fused_attention": False}


def _exporting() -> bool:
    return torch.onnx.is_in_onnx_export()


def _sdpa(q, k, v):
    """softmax(q kᵀ/√d) v on [B, H, S, d]; PyTorch 1.13 has no F.scaled_dot_product_attention."""
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(q.shape[-1]))
    return scores.softmax(-1) @ v


class _MultiHeadAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, heads):
        return _attention_eager(q, k, v, heads)

    @staticmethod
    def symbolic(g, q, k, v, heads):
        return g.op("com.microsoft::MultiHeadAttention", q, k, v, num_heads_i=heads)


def _attention_eager(q, k, v, heads: int):
    b, s, d = q.shape
    sk = k.shape[1]

    def split(t, n):
        return t.reshape(b, n, heads, d // heads).transpose(1, 2)

    out = _sdpa(split(q, s), split(k, sk), split(v, sk))
    return out.transpose(1, 2).reshape(b, s, d)


def attention(q, k, v, heads: int):
    """Unmasked multi-head attention; q, k, v and the result are [B, S, heads*head_dim]. Exported
    fused unless EXPORT["fused_attention"] is False (then MatMul -> Softmax -> MatMul)."""
    if _exporting() and EXPORT["fused_attention"]:
        return _MultiHeadAttention.apply(q, k, v, heads)
    return _attention_eager(q, k, v, heads)


class _SimplifiedLayerNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, eps):
        return _rms_eager(x, weight, eps)

    @staticmethod
    def symbolic(g, x, weight, eps):
        return g.op(f"{_PLACEHOLDER_DOMAIN}::SimplifiedLayerNormalization", x, weight, axis_i=-1, epsilon_f=eps, stash_type_i=1)


def _rms_eager(x, weight, eps: float):
    dtype = x.dtype
    variance = x.float().pow(2).mean(-1, keepdim=True)
    return (x.float() * torch.rsqrt(variance + eps)).to(dtype) * weight.to(dtype)


def rms_norm(x, weight, eps: float):
    if _exporting():
        return _SimplifiedLayerNorm.apply(x, weight, eps)
    return _rms_eager(x, weight, eps)


class _FastGelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return F.gelu(x, approximate="tanh")

    @staticmethod
    def symbolic(g, x):
        return g.op("com.microsoft::FastGelu", x)


def gelu_tanh(x):
    if _exporting():
        return _FastGelu.apply(x)
    return F.gelu(x, approximate="tanh")


def restore_default_domain(model) -> None:
    """Moves placeholder-domain nodes (see CUSTOM_OPSETS) to the default domain, in place (onnx ModelProto)."""
    for node in model.graph.node:
        if node.domain == _PLACEHOLDER_DOMAIN:
            node.domain = ""
    kept = [o for o in model.opset_import if o.domain != _PLACEHOLDER_DOMAIN]
    del model.opset_import[:]
    model.opset_import.extend(kept)
