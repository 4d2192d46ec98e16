import math

import numpy as np
import pytest
import torch

from flowfill.mmdit import (DIT_CONFIG, SD3Transformer2DModel, deepened, deepened_positions, get_2d_sincos_pos_embed, timestep_embedding,
                            widened, widened_stream_map,
                           unpatchify)

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


def _trained_like(config, seed=0):
    """A model whose every parameter is non-zero, as after training (the fresh AdaLN-Zero net is the zero map)."""
    torch.manual_seed(seed)
    m = SD3Transformer2DModel(config)
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return m


def test_deepened_positions_spread_the_old_blocks_and_keep_the_last_last():
    assert deepened_positions(6, 10) == [0, 2, 4, 5, 7, 9]
    assert deepened_positions(6, 6) == [0, 1, 2, 3, 4, 5]
    assert deepened_positions(2, 5) == [0, 4]
    for old, new in ((6, 7), (6, 12), (3, 8)):
        pos = deepened_positions(old, new)
        assert pos == sorted(set(pos)) and pos[-1] == new - 1 and len(pos) == old
    for bad in ((6, 5), (1, 4)):
        try:
            deepened_positions(*bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad} accepted")


def test_deepened_model_computes_the_same_function_and_its_new_blocks_learn():
    config = dict(DIT_CONFIG, num_layers=3)
    m = _trained_like(config)
    x = torch.randn(2, 16, 12, 20)
    t = torch.tensor([10.0, 900.0])
    ctx = torch.randn(2, 7, config["joint_attention_dim"])
    pooled = torch.randn(2, config["pooled_projection_dim"])
    grown = deepened(m, 5)
    assert grown.config["num_layers"] == 5 and m.config["num_layers"] == 3
    with torch.no_grad():
        before, after = m(x, t, ctx, pooled), grown(x, t, ctx, pooled)
    assert before.abs().max() > 0.1  # not the trivial zero map
    assert (after - before).abs().max() < 1e-5
    # The inserted blocks (1 and 3) are identity now, and their modulation gets a gradient.
    grown(x, t, ctx, pooled).square().mean().backward()
    for j in (1, 3):
        assert grown.transformer_blocks[j].norm1.linear.weight.grad.abs().max() > 0
    # The trained blocks were moved, not re-initialised.
    assert torch.equal(grown.transformer_blocks[2].attn.to_q.weight, m.transformer_blocks[1].attn.to_q.weight)
    assert grown.transformer_blocks[4].context_pre_only and not grown.transformer_blocks[3].context_pre_only


def test_widened_stream_map_keeps_the_old_position_codes_on_the_originals():
    old, new = get_2d_sincos_pos_embed(160, 64, 32), get_2d_sincos_pos_embed(320, 64, 32)
    stream = widened_stream_map(160)
    assert len(stream) == 320 and sorted(stream) == sorted(list(range(160)) * 2)
    assert np.abs(new[:, 0::2] - old[:, stream[0::2]]).max() == 0  # originals: the same codes exactly
    assert np.abs(new[:, 1::2] - old[:, stream[1::2]]).max() > 0.5  # copies: the new in-between frequencies
    with pytest.raises(ValueError):
        widened_stream_map(162)


def test_widened_model_computes_the_same_function_up_to_the_position_codes_and_learns():
    config = dict(DIT_CONFIG, num_layers=3, num_attention_heads=2, caption_projection_dim=64)
    m = _trained_like(config)
    x = torch.randn(2, 16, 12, 20)
    t = torch.tensor([10.0, 900.0])
    ctx = torch.randn(2, 7, config["joint_attention_dim"])
    pooled = torch.randn(2, config["pooled_projection_dim"])
    exact, wide = widened(m, noise=0, exact_positions=True), widened(m)
    assert wide.config["num_attention_heads"] == 4 and wide.config["caption_projection_dim"] == 128 and wide.inner_dim == 128
    assert sum(p.numel() for p in wide.parameters()) > 3 * sum(p.numel() for p in m.parameters())
    with torch.no_grad():
        before, same, moved = m(x, t, ctx, pooled), exact(x, t, ctx, pooled), wide(x, t, ctx, pooled)
    assert before.abs().max() > 0.1
    assert (same - before).abs().max() < 1e-5
    # The real table (what export and the engine compute) differs only on the copies' codes.
    assert torch.allclose(wide.pos_embed.pos_embed[0], torch.from_numpy(get_2d_sincos_pos_embed(128, 64, 32)))
    assert 1e-4 < float((moved - before).abs().max()) < float(before.abs().max())
    # The noise makes a copied head differ from its original, so the two learn apart.
    wide(x, t, ctx, pooled).square().mean().backward()
    g = wide.transformer_blocks[0].attn.to_q.weight.grad
    assert not torch.allclose(g[:64], g[64:])


def test_grow_dit_widens_a_resumed_net_to_twice_its_heads_and_records_it():
    from flowfill.run import grow_dit

    config = dict(DIT_CONFIG, num_layers=2, num_attention_heads=2, caption_projection_dim=64)
    state = {"dit": _trained_like(config), "dit_steps": 700}
    said = []
    grown = grow_dit(state, None, DIT_CONFIG, said.append, heads=4)
    assert grown["num_attention_heads"] == 4 and grown["caption_projection_dim"] == 128 and grown["num_layers"] == 2
    assert state["dit"].inner_dim == 128 and state["dit_growth"] == [{"heads": [2, 4], "at_dit_step": 700}]
    assert "widened from 2 to 4 heads" in said[0]
    assert grow_dit(state, None, DIT_CONFIG, said.append, heads=4)["num_attention_heads"] == 4  # already that wide: unchanged
    with pytest.raises(ValueError, match="twice"):
        grow_dit(state, None, DIT_CONFIG, said.append, heads=6)
    fresh = grow_dit({}, 3, DIT_CONFIG, said.append, heads=8)
    assert fresh["num_attention_heads"] == 8 and fresh["caption_projection_dim"] == 256 and fresh["num_layers"] == 3
