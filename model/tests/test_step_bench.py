"""flowfill.step_bench: its variants are the MM-DiT of the asked heads and depth, and a step runs."""
import pytest

from flowfill.mmdit import DIT_CONFIG
from flowfill.step_bench import build, parse_variants, time_steps, variant_config


def test_variants_parse_and_keep_the_rest_of_the_config():
    assert parse_variants("5x10,8x16") == [(5, 10), (8, 16)]
    cfg = variant_config(8, 16)
    assert cfg["num_attention_heads"] == 8 and cfg["num_layers"] == 16 and cfg["caption_projection_dim"] == 256
    assert {k: v for k, v in cfg.items() if k not in ("num_attention_heads", "num_layers", "caption_projection_dim")} == \
        {k: v for k, v in DIT_CONFIG.items() if k not in ("num_attention_heads", "num_layers", "caption_projection_dim")}
    for bad in ("5", "5x1", "ax10", "5x10,"):
        with pytest.raises(ValueError):
            parse_variants(bad)


def test_a_timed_step_trains_every_block():
    dit = build(2, 2, "cpu")
    before = [p.detach().clone() for p in dit.parameters()]
    r = time_steps(dit, "cpu", batch=2, latent_hw=(8, 8), steps=1, warmup=1)
    assert r["median_ms"] > 0
    assert all(not (p == b).all() for p, b in zip(dit.parameters(), before) if p.dim() >= 2)


def test_cuda_graphs_are_refused_without_a_cuda_device():
    from flowfill.step_bench import graphs_against_eager

    with pytest.raises(ValueError, match="CUDA device"):
        graphs_against_eager(2, 2, "cpu", steps=2)
