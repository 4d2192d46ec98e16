import math

import numpy as np
import torch

from flowfill.mmdit import DIT_CONFIG, SD3Transformer2DModel, get_2d_sincos_pos_embed, timestep_embedding, unpatchify

DIFFUSERS_KEYS = {"sample_size", "patch_size", "in_channels", "num_layers", "attention_head_dim", "num_attention_heads",
                  "joint_attention_dim", "caption_projection_dim", "pooled_projection_dim", "out_channels",
                  "pos_embed_max_size", "qk_norm", "dual_attention_layers"}


def test_config_has_the_diffusers_keys_native_512_and_covers_1024_by_512_and_4_to_1():
    assert DIFFUSERS_KEYS <= set(DIT_CONFIG)
    assert DIT_CONFIG["qk_norm"] == "rms_norm" and DIT_CONFIG["dual_attention_layers"] == []
    assert DIT_CONFIG["sample_size"] * 8 == 512
    # The table covers 1024 px per side: 1024x512, and 4:1 / 1:4 at the native area (1024x256).
    assert DIT_CONFIG["pos_embed_max_size"] * DIT_CONFIG["patch_size"] * 8 >= 1024


def test_computed_pos_embed_equals_the_cropped_table():
    m = SD3Transformer2DModel(DIT_CONFIG)
    for h, w in ((32, 32), (64, 64), (32, 128), (128, 32), (22, 46), (128, 128)):
        torch.testing.assert_close(m.pos_embed.computed_pos_embed(h, w), m.pos_embed.cropped_pos_embed(h, w), atol=2e-6, rtol=0)


def test_pos_embed_follows_the_sincos_formula():
    D, P, base = 16, 6, 4
    table = get_2d_sincos_pos_embed(D, P, base)
    s, K = P / base, D // 4
    for i, j in ((0, 0), (2, 5), (5, 1)):
        x, y = j / s, i / s
        w = 1.0 / 10000 ** (np.arange(K) / K)
        expect = np.concatenate([np.sin(x * w), np.cos(x * w), np.sin(y * w), np.cos(y * w)])
        np.testing.assert_allclose(table[i * P + j], expect, atol=1e-6)


def test_cropped_pos_embed_is_the_centre_of_the_table():
    m = SD3Transformer2DModel(DIT_CONFIG)
    P = DIT_CONFIG["pos_embed_max_size"]
    full = m.pos_embed.pos_embed.reshape(P, P, -1)
    crop = m.pos_embed.cropped_pos_embed(22, 46).reshape(11, 23, -1)  # 2:1 at 256²-area
    top, left = (P - 11) // 2, (P - 23) // 2
    assert torch.equal(crop, full[top : top + 11, left : left + 23])


def test_timestep_embedding_is_cos_then_sin():
    e = timestep_embedding(torch.tensor([500.0]))
    f1 = math.exp(-math.log(10000) / 128)
    assert abs(e[0, 1].item() - math.cos(500 * f1)) < 1e-4 and abs(e[0, 129].item() - math.sin(500 * f1)) < 1e-4


def test_forward_shapes_non_square_and_adaln_zero_start():
    torch.manual_seed(0)
    m = SD3Transformer2DModel(DIT_CONFIG)
    x = torch.randn(2, 16, 22, 46)
    ctx = torch.randn(2, 40, DIT_CONFIG["joint_attention_dim"])
    pooled = torch.randn(2, DIT_CONFIG["pooled_projection_dim"])
    out = m(x, torch.tensor([10.0, 900.0]), ctx, pooled)
    assert out.shape == x.shape
    assert torch.count_nonzero(out) == 0  # AdaLN-Zero + zero proj_out: the untrained net is the zero map
    names = set(dict(m.named_parameters()))
    for key in ("transformer_blocks.0.attn.add_k_proj.weight", "transformer_blocks.0.attn.norm_added_q.weight",
                "transformer_blocks.0.norm1_context.linear.weight", "transformer_blocks.0.ff_context.net.0.proj.weight",
                "time_text_embed.text_embedder.linear_1.weight", "context_embedder.weight", "norm_out.linear.weight"):
        assert key in names, key
    last = DIT_CONFIG["num_layers"] - 1
    assert f"transformer_blocks.{last}.attn.to_add_out.weight" not in names
    assert "pos_embed.pos_embed" in m.state_dict()


def test_unpatchify_keeps_spatial_layout():
    torch.manual_seed(0)
    m = SD3Transformer2DModel(DIT_CONFIG)
    with torch.no_grad():
        for p in m.parameters():
            p.normal_(0, 0.05)
    x = torch.randn(1, 16, 8, 12)
    ctx = torch.randn(1, 40, DIT_CONFIG["joint_attention_dim"])
    pooled = torch.randn(1, DIT_CONFIG["pooled_projection_dim"])
    a = m(x, torch.tensor([300.0]), ctx, pooled)
    # Every output patch depends on the whole input (attention), but the output must be
    # finite and different per patch position.
    assert torch.isfinite(a).all() and not torch.allclose(a[..., :2, :2], a[..., 2:4, :2])


def test_unpatchify_is_diffusers_einsum():
    b, hp, wp, p, c = 2, 3, 5, 2, 16
    tokens = torch.randn(b, hp * wp, p * p * c)
    ref = torch.einsum("nhwpqc->nchpwq", tokens.reshape(b, hp, wp, p, p, c)).reshape(b, c, hp * p, wp * p)
    assert torch.equal(unpatchify(tokens, hp, wp, p, c), ref)
