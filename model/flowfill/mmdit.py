"""SD3Transformer2DModel (MM-DiT) with diffusers' module names and config keys.

Joint attention over concatenated image + text tokens with separate per-stream projections,
QK RMS-norm, AdaLN-Zero conditioned on timestep + pooled text, patch 2, cropped 2-D sin-cos
positional table (persistent buffer pos_embed.pos_embed, as SD3 checkpoints store it).
"""
import math

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DIT_CONFIG = {
    "_class_name": "SD3Transformer2DModel",
    "_diffusers_version": "0.31.0",
    "sample_size": 32,
    "patch_size": 2,
    "in_channels": 16,
    "num_layers": 6,
    "attention_head_dim": 32,
    "num_attention_heads": 5,
    "joint_attention_dim": 128,
    "caption_projection_dim": 160,
    "pooled_projection_dim": 128,
    "out_channels": 16,
    "pos_embed_max_size": 32,
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
        self.proj = nn.Conv2d(in_channels, embed_dim, kernel_size=patch_size, stride=patch_size, bias=True)
        table = get_2d_sincos_pos_embed(embed_dim, pos_embed_max_size, base_size=sample_size // patch_size)
        self.register_buffer("pos_embed", torch.from_numpy(table).float().unsqueeze(0), persistent=True)

    def cropped_pos_embed(self, height, width):
        height = height // self.patch_size
        width = width // self.patch_size
        top = (self.pos_embed_max_size - height) // 2
        left = (self.pos_embed_max_size - width) // 2
        spatial = self.pos_embed.reshape(1, self.pos_embed_max_size, self.pos_embed_max_size, -1)
        spatial = spatial[:, top : top + height, left : left + width, :]
        return spatial.reshape(1, -1, spatial.shape[-1])

    def forward(self, latent):
        height, width = latent.shape[-2:]
        latent = self.proj(latent).flatten(2).transpose(1, 2)
        return latent + self.cropped_pos_embed(height, width).to(latent.dtype)


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


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        dtype = x.dtype
        variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
        x = x * torch.rsqrt(variance + self.eps)
        return x.to(dtype) * self.weight.to(dtype)


class AdaLayerNormZero(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.linear = nn.Linear(dim, 6 * dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x, emb):
        emb = self.linear(F.silu(emb))
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = emb.chunk(6, dim=1)
        x = self.norm(x) * (1 + scale_msa[:, None]) + shift_msa[:, None]
        return x, gate_msa, shift_mlp, scale_mlp, gate_mlp


class AdaLayerNormContinuous(nn.Module):
    def __init__(self, dim, cond_dim):
        super().__init__()
        self.linear = nn.Linear(cond_dim, 2 * dim)
        self.norm = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)

    def forward(self, x, cond):
        scale, shift = self.linear(F.silu(cond)).chunk(2, dim=1)  # scale first, as diffusers
        return self.norm(x) * (1 + scale)[:, None, :] + shift[:, None, :]


class GELU(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Linear(cin, cout)

    def forward(self, x):
        return F.gelu(self.proj(x), approximate="tanh")


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
        inner = heads * head_dim
        self.to_q, self.to_k, self.to_v = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.add_q_proj, self.add_k_proj, self.add_v_proj = nn.Linear(dim, inner), nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.norm_q, self.norm_k = RMSNorm(head_dim), RMSNorm(head_dim)
        self.norm_added_q, self.norm_added_k = RMSNorm(head_dim), RMSNorm(head_dim)
        self.to_out = nn.ModuleList([nn.Linear(inner, dim), nn.Dropout(0.0)])
        self.to_add_out = None if context_pre_only else nn.Linear(inner, dim)

    def forward(self, hidden_states, encoder_hidden_states):
        residual = hidden_states
        batch_size = encoder_hidden_states.shape[0]
        inner = self.to_q.out_features
        head_dim = inner // self.heads

        def heads(t):
            return t.view(batch_size, -1, self.heads, head_dim).transpose(1, 2)

        query = self.norm_q(heads(self.to_q(hidden_states)))
        key = self.norm_k(heads(self.to_k(hidden_states)))
        value = heads(self.to_v(hidden_states))
        cq = self.norm_added_q(heads(self.add_q_proj(encoder_hidden_states)))
        ck = self.norm_added_k(heads(self.add_k_proj(encoder_hidden_states)))
        cv = heads(self.add_v_proj(encoder_hidden_states))
        query = torch.cat([query, cq], dim=2)
        key = torch.cat([key, ck], dim=2)
        value = torch.cat([value, cv], dim=2)
        out = F.scaled_dot_product_attention(query, key, value, dropout_p=0.0, is_causal=False)
        out = out.transpose(1, 2).reshape(batch_size, -1, self.heads * head_dim).to(query.dtype)
        hidden_states, context = out[:, : residual.shape[1]], out[:, residual.shape[1] :]
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
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
        self.ff = FeedForward(dim)
        if not context_pre_only:
            self.norm2_context = nn.LayerNorm(dim, elementwise_affine=False, eps=1e-6)
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
        c = self.config["out_channels"]
        hidden_states = hidden_states.reshape(hidden_states.shape[0], height // p, width // p, p, p, c)
        hidden_states = torch.einsum("nhwpqc->nchpwq", hidden_states)
        return hidden_states.reshape(hidden_states.shape[0], c, (height // p) * p, (width // p) * p)
