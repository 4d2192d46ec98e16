"""SD3Transformer2DModel (MM-DiT) with diffusers' module names and config keys.

Joint attention over concatenated image + text tokens with separate per-stream projections,
QK RMS-norm, AdaLN-Zero conditioned on timestep + pooled text, patch embedding by a strided
convolution, and diffusers' 2-D sin-cos positional table (pos_embed.pos_embed, base size
sample_size / patch_size) cropped at the centre. Port of diffusers' transformer_sd3.py and
attention_processor.JointAttnProcessor2_0:
https://github.com/huggingface/diffusers/blob/v0.31.0/src/diffusers/models/transformers/transformer_sd3.py

Export differs from the PyTorch forward in form only (flowfill/onnx_ops.py): fused attention,
RMS norm and GELU nodes, and the positional table computed from its formula inside the graph
for the cropped positions rather than stored (4096 × width floats would be ~4 MB of the package).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .onnx_ops import attention, gelu_tanh, rms_norm

# Flowfill's default model v2: native 512 px (sample_size 64 latents), table covering 1024 px per
# side (pos_embed_max_size 64 patches), so 4:1 at the native area (1024×256) and 1024×512 fit.
# Width 160 and depth 6 keep v1's per-step cost on WASM (a 20-step 256² image on two CPU cores
# must not get slower): measured per CFG step, width 192 x 5 layers costs 1.2x v1, 160 x 6 1.02x
# (model/README.md, "Same bytes, more model").
DIT_CONFIG = {
    "_class_name": "SD3Transformer2DModel",
    "_diffusers_version": "0.31.0",
    "sample_size": 64,
    "patch_size": 2,
    "in_channels": 16,
    "num_layers": 6,
    "attention_head_dim": 32,
    "num_attention_heads": 5,
    "joint_attention_dim": 256,
    "caption_projection_dim": 160,
    "pooled_projection_dim": 256,
    "out_channels": 16,
    "pos_embed_max_size": 64,
    "dual_attention_layers": [],
    "qk_norm": "rms_norm",
}


def get_2d_sincos_pos_embed(embed_dim: int, grid_size: int, base_size: int, interpolation_scale: float = 1.0) -> np.ndarray:
    """diffusers' table: row i, column j -> [sin(x w), cos(x w), sin(y w), cos(y w)], x = j/s, y = i/s, s = P/base/interp."""
    grid_h = np.arange(grid_size, dtype=np.float32) / (grid_size / base_size) / interpolation_scale
    grid_w = np.arange(grid_size, dtype=np.float32) / (grid_size / base_size) / interpolation_scale
    grid = np.meshgrid(grid_w, grid_h)  # w first
    grid = np.stack(grid, axis=0).reshape(2, 1, grid_size, grid_size)

    def one_d(dim, pos):
        omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
        omega = 1.0 / 10000**omega
        out = np.einsum("m,d->md", pos.reshape(-1).astype(np.float64), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    emb = np.concatenate([one_d(embed_dim // 2, grid[0]), one_d(embed_dim // 2, grid[1])], axis=1)
    return emb.astype(np.float32)


class PatchEmbed(nn.Module):
    def __init__(self, sample_size, patch_size, in_channels, embed_dim, pos_embed_max_size):
        super().__init__()
        self.patch_size = patch_size
        self.pos_embed_max_size = pos_embed_max_size
        self.base_size = sample_size // patch_size
        self.embed_dim = embed_dim
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size, bias=True)
        table = get_2d_sincos_pos_embed(embed_dim, pos_embed_max_size, base_size=self.base_size)
        self.register_buffer("pos_embed", torch.from_numpy(table).float().unsqueeze(0), persistent=True)

    def cropped_pos_embed(self, height, width):
        height = height // self.patch_size
        width = width // self.patch_size
        top = (self.pos_embed_max_size - height) // 2
        left = (self.pos_embed_max_size - width) // 2
        spatial = self.pos_embed.reshape(1, self.pos_embed_max_size, self.pos_embed_max_size, -1)
        spatial = spatial[:, top : top + height, left : left + width, :]
        return spatial.reshape(1, -1, spatial.shape[-1])

    def computed_pos_embed(self, height, width):
        """The same crop from the table's formula (float32), for export: only the positions used."""
        p, size = self.patch_size, self.pos_embed_max_size
        h, w = height // p, width // p
        top, left = (size - h) // 2, (size - w) // 2
        step = float(size) / self.base_size
        ys = (torch.arange(h, dtype=torch.float32) + top) / step
        xs = (torch.arange(w, dtype=torch.float32) + left) / step
        quarter = self.embed_dim // 4
        omega = torch.from_numpy((1.0 / 10000 ** (np.arange(quarter, dtype=np.float64) / quarter)).astype(np.float32))

        def one_d(pos):
            out = pos[:, None] * omega[None, :]
            return torch.cat([torch.sin(out), torch.cos(out)], dim=1)

        ex, ey = one_d(xs), one_d(ys)  # [w, D/2], [h, D/2]
        grid = torch.cat([ex[None, :, :].expand(h, w, 2 * quarter), ey[:, None, :].expand(h, w, 2 * quarter)], dim=2)
        return grid.reshape(1, -1, self.embed_dim)

    def forward(self, latent):
        height, width = latent.shape[-2:]
        latent = self.proj(latent).flatten(2).transpose(1, 2)
        pos = self.computed_pos_embed(height, width) if torch.onnx.is_in_onnx_export() else self.cropped_pos_embed(height, width)
        return latent + pos.to(latent.dtype)


def timestep_embedding(timesteps, dim=256, max_period=10000):
    """[cos(t f_k), sin(t f_k)] with f_k = exp(-ln(10000) k / half) (flip_sin_to_cos=True, shift 0)."""
    half = dim // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    emb = timesteps.float()[:, None] * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(emb), torch.sin(emb)], dim=-1)


class TimestepEmbedding(nn.Module):
    def __init__(self, cin, dim):
        super().__init__()
        self.linear_1 = nn.Linear(cin, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x):
        return self.linear_2(F.silu(self.linear_1(x)))


class PixArtAlphaTextProjection(TimestepEmbedding):
    pass


class CombinedTimestepTextProjEmbeddings(nn.Module):
    def __init__(self, dim, pooled_dim):
        super().__init__()
        self.timestep_embedder = TimestepEmbedding(256, dim)
        self.text_embedder = PixArtAlphaTextProjection(pooled_dim, dim)

    def forward(self, timestep, pooled):
        t = self.timestep_embedder(timestep_embedding(timestep).to(pooled.dtype))
        return t + self.text_embedder(pooled)


class PlainLayerNorm(nn.LayerNorm):
    """nn.LayerNorm(elementwise_affine=False) whose export carries an explicit unit scale and zero
    bias: PyTorch 1.13 exports the affine-free form without LayerNormalization's required scale, and
    onnxruntime 1.30's SkipLayerNormFusion crashes (segfault) on a LayerNormalization without a bias."""

    def __init__(self, dim, eps=1e-6):
        super().__init__(dim, elementwise_affine=False, eps=eps)
        self.register_buffer("unit_scale", torch.ones(dim), persistent=False)
        self.register_buffer("zero_bias", torch.zeros(dim), persistent=False)

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.unit_scale.to(x.dtype), self.zero_bias.to(x.dtype), self.eps)


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return rms_norm(x, self.weight, self.eps)


class AdaLayerNormZero(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear = nn.Linear(dim, 6 * dim)
        self.norm = PlainLayerNorm(dim)

    def forward(self, x, emb):
        emb = self.linear(F.silu(emb))
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = emb.chunk(6, dim=1)
        x = self.norm(x) * (1 + scale_msa[:, None]) + shift_msa[:, None]
        return x, gate_msa, shift_mlp, scale_mlp, gate_mlp


class AdaLayerNormContinuous(nn.Module):
    def __init__(self, dim, cond_dim):
        super().__init__()
        self.linear = nn.Linear(cond_dim, 2 * dim)
        self.norm = PlainLayerNorm(dim)

    def forward(self, x, cond):
        scale, shift = self.linear(F.silu(cond)).chunk(2, dim=1)  # scale first, as diffusers
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]


class GELU(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Linear(cin, cout)

    def forward(self, x):
        return gelu_tanh(self.proj(x))


class FeedForward(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.net = nn.ModuleList([GELU(dim, 4 * dim), nn.Dropout(0.0), nn.Linear(4 * dim, dim)])

    def forward(self, x):
        for m in self.net:
            x = m(x)
        return x


class JointAttention(nn.Module):
    """diffusers Attention + JointAttnProcessor2_0 (image tokens first, then text; no mask)."""

    def __init__(self, dim, heads, head_dim, context_pre_only):
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        inner = heads * head_dim
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.add_q_proj, self.add_k_proj, self.add_v_proj = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.norm_q, self.norm_k = RMSNorm(head_dim), RMSNorm(head_dim)
        self.norm_added_q, self.norm_added_k = RMSNorm(head_dim), RMSNorm(head_dim)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])
        self.to_add_out = None if context_pre_only else nn.Linear(inner, dim)

    def _per_head(self, norm, t):
        """RMS norm over each head's channels, keeping the [B, S, heads*head_dim] layout."""
        b, s, _ = t.shape
        return norm(t.reshape(b, s, self.heads, self.head_dim)).reshape(b, s, self.heads * self.head_dim)

    def forward(self, hidden_states, encoder_hidden_states):
        n_image = hidden_states.shape[1]
        query = torch.cat([self._per_head(self.norm_q, self.to_q(hidden_states)),
                           self._per_head(self.norm_added_q, self.add_q_proj(encoder_hidden_states))], dim=1)
        key = torch.cat([self._per_head(self.norm_k, self.to_k(hidden_states)),
                         self._per_head(self.norm_added_k, self.add_k_proj(encoder_hidden_states))], dim=1)
        value = torch.cat([self.to_v(hidden_states), self.add_v_proj(encoder_hidden_states)], dim=1)
        out = attention(query, key, value, self.heads).to(query.dtype)
        hidden_states, context = out[:, :n_image], out[:, n_image:]
        hidden_states = self.to_out[1](self.to_out[0](hidden_states))
        if self.to_add_out is not None:
            context = self.to_add_out(context)
        return hidden_states, context


class JointTransformerBlock(nn.Module):
    def __init__(self, dim, heads, head_dim, context_pre_only):
        super().__init__()
        self.context_pre_only = context_pre_only
        self.norm1 = AdaLayerNormZero(dim)
        self.norm1_context = AdaLayerNormContinuous(dim, dim) if context_pre_only else AdaLayerNormZero(dim)
        self.attn = JointAttention(dim, heads, head_dim, context_pre_only)
        self.norm2 = PlainLayerNorm(dim)
        self.ff = FeedForward(dim)
        if not context_pre_only:
            self.norm2_context = PlainLayerNorm(dim)
            self.ff_context = FeedForward(dim)

    def forward(self, hidden_states, encoder_hidden_states, temb):
        norm_x, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.norm1(hidden_states, temb)
        if self.context_pre_only:
            norm_c = self.norm1_context(encoder_hidden_states, temb)
        else:
            norm_c, c_gate_msa, c_shift_mlp, c_scale_mlp, c_gate_mlp = self.norm1_context(encoder_hidden_states, temb)
        attn_out, context_attn_out = self.attn(norm_x, norm_c)
        hidden_states = hidden_states + gate_msa[:, None] * attn_out
        ff_in = self.norm2(hidden_states) * (1 + scale_mlp[:, None]) + shift_mlp[:, None]
        hidden_states = hidden_states + gate_mlp[:, None] * self.ff(ff_in)
        if self.context_pre_only:
            return None, hidden_states
        encoder_hidden_states = encoder_hidden_states + c_gate_msa[:, None] * context_attn_out
        c_in = self.norm2_context(encoder_hidden_states) * (1 + c_scale_mlp[:, None]) + c_shift_mlp[:, None]
        encoder_hidden_states = encoder_hidden_states + c_gate_mlp[:, None] * self.ff_context(c_in)
        return encoder_hidden_states, hidden_states


class SD3Transformer2DModel(nn.Module):
    def __init__(self, config: dict | None = None):
        super().__init__()
        cfg = dict(config or DIT_CONFIG)
        if cfg["qk_norm"] != "rms_norm" or cfg["dual_attention_layers"]:
            raise ValueError(f"qk_norm {cfg['qk_norm']!r} / dual_attention_layers {cfg['dual_attention_layers']!r}: only 'rms_norm' and [] are implemented")
        self.config = cfg
        dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
        if cfg["caption_projection_dim"] != dim:
            raise ValueError(f"caption_projection_dim {cfg['caption_projection_dim']} must equal heads*head_dim = {dim}")
        self.inner_dim = dim
        self.pos_embed = PatchEmbed(cfg["sample_size"], cfg["patch_size"], cfg["in_channels"], dim, cfg["pos_embed_max_size"])
        self.time_text_embed = CombinedTimestepTextProjEmbeddings(dim, cfg["pooled_projection_dim"])
        self.context_embedder = nn.Linear(cfg["joint_attention_dim"], cfg["caption_projection_dim"])
        n = cfg["num_layers"]
        self.transformer_blocks = nn.ModuleList(
            [JointTransformerBlock(dim, cfg["num_attention_heads"], cfg["attention_head_dim"], i == n - 1) for i in range(n)]
        )
        self.norm_out = AdaLayerNormContinuous(dim, dim)
        self.proj_out = nn.Linear(dim, cfg["patch_size"] ** 2 * cfg["out_channels"])
        self._init_weights()

    def _init_weights(self):
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        nn.init.normal_(self.time_text_embed.timestep_embedder.linear_1.weight, std=0.02)
        nn.init.normal_(self.time_text_embed.timestep_embedder.linear_2.weight, std=0.02)
        # AdaLN-Zero: modulation and output projection start at zero, so every block starts as identity.
        for block in self.transformer_blocks:
            for norm in (block.norm1, block.norm1_context):
                nn.init.zeros_(norm.linear.weight)
                nn.init.zeros_(norm.linear.bias)
        nn.init.zeros_(self.norm_out.linear.weight)
        nn.init.zeros_(self.norm_out.linear.bias)
        nn.init.zeros_(self.proj_out.weight)
        nn.init.zeros_(self.proj_out.bias)

    def forward(self, hidden_states, timestep, encoder_hidden_states, pooled_projections):
        height, width = hidden_states.shape[-2:]
        p = self.config["patch_size"]
        hidden_states = self.pos_embed(hidden_states)
        temb = self.time_text_embed(timestep, pooled_projections)
        encoder_hidden_states = self.context_embedder(encoder_hidden_states)
        for block in self.transformer_blocks:
            encoder_hidden_states, hidden_states = block(hidden_states, encoder_hidden_states, temb)
        hidden_states = self.proj_out(self.norm_out(hidden_states, temb))
        return unpatchify(hidden_states, height // p, width // p, p, self.config["out_channels"])


def deepened_positions(old_layers: int, new_layers: int) -> list[int]:
    """Where each of `old_layers` blocks goes in a stack of `new_layers`: spread evenly, the last
    (context-pre-only) block last, so the new identity blocks sit between trained ones."""
    if not 2 <= old_layers <= new_layers:
        raise ValueError(f"can only deepen a stack of at least 2 blocks to at least as many ({old_layers} -> {new_layers})")
    spread = [round(i * (new_layers - 1) / (old_layers - 1)) for i in range(old_layers - 1)]
    return spread + [new_layers - 1]


def deepened(dit: SD3Transformer2DModel, num_layers: int) -> SD3Transformer2DModel:
    """`dit` with `num_layers` blocks computing the same function: its blocks keep their weights at
    deepened_positions, and each new block starts as AdaLN-Zero does (modulation zero, so its gates are
    zero and it passes both streams through unchanged) and learns from there. The way to add depth to a
    trained model without starting over (model/README.md, "Capacity")."""
    old = dit.config["num_layers"]
    grown = SD3Transformer2DModel(dict(dit.config, num_layers=num_layers)).to(next(dit.parameters()).device)
    sd = grown.state_dict()
    for k, v in dit.state_dict().items():
        if not k.startswith("transformer_blocks."):
            sd[k] = v
    for i, j in enumerate(deepened_positions(old, num_layers)):
        for k, v in dit.transformer_blocks[i].state_dict().items():
            sd[f"transformer_blocks.{j}.{k}"] = v
    grown.load_state_dict(sd, strict=True)
    return grown


def unpatchify(tokens, hp, wp, p: int, c: int):
    """[B, hp*wp, p*p*c] (row-major patches, each [p, p, c]) -> [B, c, hp*p, wp*p]: diffusers'
    einsum("nhwpqc->nchpwq") as a reshape and one transpose."""
    b = tokens.shape[0]
    x = tokens.reshape(b, hp, wp, p, p, c).permute(0, 5, 1, 3, 2, 4)
    return x.reshape(b, c, hp * p, wp * p)


def widened_stream_map(dim: int) -> list[int]:
    """For a stream widened from `dim` to 2·dim: the old channel each new one copies. The positional
    table's channels are four blocks (sin x, cos x, sin y, cos y) of dim/4 frequencies, and at twice the
    width each block's frequencies are the old ones at even indices with new ones between them
    (get_2d_sincos_pos_embed); so old channel (block k, frequency i) goes to 2i of block k in the wide
    stream and its copy to 2i + 1, and the originals keep their own position codes exactly."""
    if dim % 4:
        raise ValueError(f"a stream of {dim} channels is not four blocks of frequencies")
    q = dim // 4
    return [k * q + n // 2 for k in range(4) for n in range(2 * q)]


def widened(dit: SD3Transformer2DModel, noise: float = 1e-3, exact_positions: bool = False, seed: int = 0) -> SD3Transformer2DModel:
    """`dit` at twice the width (heads doubled, head width kept), computing the same function up to the
    positional table: every stream channel, attention head and MLP unit is duplicated and every weight
    reading a duplicated space halved, so LayerNorm statistics, each head's attention and every product
    keep their values. SD3 computes the positional table from the width; the originals keep their codes
    (widened_stream_map) and the copies get the new table's in-between frequencies, which breaks the
    copies' symmetry and is what the first slice after widening relearns. A copied head or MLP unit
    reads the whole stream, so it would get the same gradient as its original for ever: `noise` (times
    each weight tensor's standard deviation, Net2Net's remedy) makes them diverge. exact_positions=True
    keeps the old table's codes on the copies too: with noise=0 the same function exactly (for tests;
    not exportable, since export computes the table from the width)."""
    cfg = dit.config
    d, heads, hd = dit.inner_dim, cfg["num_attention_heads"], cfg["attention_head_dim"]
    wide = SD3Transformer2DModel(dict(cfg, num_attention_heads=2 * heads, caption_projection_dim=2 * d)).to(next(dit.parameters()).device)
    stream = widened_stream_map(d)
    inner = [(n // hd % heads) * hd + n % hd for n in range(2 * d)]
    hidden = [n % (4 * d) for n in range(8 * d)]

    def chunks(count: int) -> list[int]:
        return [j * d + stream[n] for j in range(count) for n in range(2 * d)]

    # Which old row/column each new one copies; every space read as an input is duplicated, so an
    # input side is also halved.
    spaces = {"stream": stream, "inner": inner, "hidden": hidden, "ada6": chunks(6), "ada2": chunks(2)}

    def copy(dst: nn.Module, src: nn.Module, out: str | None, into: str | None):
        w = src.weight if out is None else src.weight[spaces[out]]
        if into is not None:
            w = w[:, spaces[into]] / 2
        dst.weight.copy_(w)
        if src.bias is not None:
            dst.bias.copy_(src.bias if out is None else src.bias[spaces[out]])

    def attention(dst: JointAttention, src: JointAttention):
        for name in ("to_q", "to_k", "to_v", "add_q_proj", "add_k_proj", "add_v_proj"):
            copy(getattr(dst, name), getattr(src, name), "inner", "stream")
        for name in ("norm_q", "norm_k", "norm_added_q", "norm_added_k"):
            getattr(dst, name).weight.copy_(getattr(src, name).weight)
        copy(dst.to_out[0], src.to_out[0], "stream", "inner")
        if src.to_add_out is not None:
            copy(dst.to_add_out, src.to_add_out, "stream", "inner")

    def mlp(dst: FeedForward, src: FeedForward):
        copy(dst.net[0].proj, src.net[0].proj, "hidden", "stream")
        copy(dst.net[2], src.net[2], "stream", "hidden")

    with torch.no_grad():
        copy(wide.pos_embed.proj, dit.pos_embed.proj, "stream", None)
        if exact_positions:
            wide.pos_embed.pos_embed.copy_(dit.pos_embed.pos_embed[..., stream])
        for emb in ("timestep_embedder", "text_embedder"):
            src, dst = getattr(dit.time_text_embed, emb), getattr(wide.time_text_embed, emb)
            copy(dst.linear_1, src.linear_1, "stream", None)
            copy(dst.linear_2, src.linear_2, "stream", "stream")
        copy(wide.context_embedder, dit.context_embedder, "stream", None)
        for src, dst in zip(dit.transformer_blocks, wide.transformer_blocks):
            copy(dst.norm1.linear, src.norm1.linear, "ada6", "stream")
            copy(dst.norm1_context.linear, src.norm1_context.linear, "ada2" if src.context_pre_only else "ada6", "stream")
            attention(dst.attn, src.attn)
            mlp(dst.ff, src.ff)
            if not src.context_pre_only:
                mlp(dst.ff_context, src.ff_context)
        copy(wide.norm_out.linear, dit.norm_out.linear, "ada2", "stream")
        copy(wide.proj_out, dit.proj_out, None, "stream")
        if noise:
            gen = torch.Generator(device="cpu").manual_seed(seed)
            for p in wide.parameters():
                if p.dim() >= 2 and p.std() > 0:
                    p.add_(torch.randn(p.shape, generator=gen).to(p.device) * (noise * float(p.std())))
    return wide
