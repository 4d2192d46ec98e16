import numpy as np
import torch

from flowfill.checkpoint import load_parts, save_parts
from flowfill.data import bucket_size
from flowfill.sampling import flow_match_sigmas
from flowfill.text_encoder import TEXT_CONFIG, CLIPTextModelWithProjection, sd3_conditioning
from flowfill.vae import VAE_CONFIG, AutoencoderKL


def test_scheduler_sigmas_match_diffusers_reference_values():
    s = flow_match_sigmas(4, 3.0)
    np.testing.assert_allclose(s, [1.0, 0.857692301273346, 0.602150559425354, 0.008928571827709675, 0.0], rtol=1e-6)


def test_rectified_flow_target_recovers_x0():
    x0, noise, t = torch.randn(4, 16, 4, 4), torch.randn(4, 16, 4, 4), torch.rand(4, 1, 1, 1)
    xt = (1 - t) * x0 + t * noise
    v = noise - x0  # the training target
    torch.testing.assert_close(xt - t * v, x0)


def test_buckets_are_multiples_of_16_near_native_area():
    for r in (0.5, 2 / 3, 1.0, 16 / 9, 2.0):
        h, w = bucket_size(r)
        assert h % 16 == 0 and w % 16 == 0
        assert abs(w / h - r) / r < 0.06 and abs(w * h - 256 * 256) / 65536 < 0.06


def test_vae_downsamples_8x_to_16_channels():
    vae = AutoencoderKL(VAE_CONFIG)
    mean, logvar = vae.encode_moments(torch.randn(1, 3, 64, 96))
    assert mean.shape == (1, 16, 8, 12) and logvar.shape == mean.shape
    assert vae.decode(mean).shape == (1, 3, 64, 96)
    keys = set(vae.state_dict())
    assert "encoder.down_blocks.0.downsamplers.0.conv.weight" in keys and "decoder.up_blocks.0.upsamplers.0.conv.weight" in keys


def test_text_conditioning_is_sd3_layout():
    te = CLIPTextModelWithProjection(dict(TEXT_CONFIG, vocab_size=50))
    ids = torch.tensor([[2, 10, 11, 3] + [0] * 28])
    pooled, last, hidden = te(ids)
    assert len(hidden) == TEXT_CONFIG["num_hidden_layers"] + 1
    ctx, pooled2 = sd3_conditioning(te, ids, joint_attention_dim=160, max_sequence_length=8)
    assert ctx.shape == (1, 32 + 8, 160)
    torch.testing.assert_close(ctx[:, :32, :128], hidden[-2])
    assert torch.count_nonzero(ctx[:, :32, 128:]) == 0 and torch.count_nonzero(ctx[:, 32:]) == 0
    torch.testing.assert_close(pooled, pooled2)
    # Pooled comes from the <eos> position: changing a pad token after it leaves it unchanged (causal mask).
    ids_b = ids.clone()
    ids_b[0, 10] = 7
    torch.testing.assert_close(te(ids_b)[0], pooled)


def test_checkpoint_parts_roundtrip(tmp_path):
    state = {"w": torch.randn(1000, 300), "n": 3}
    parts = save_parts(state, tmp_path, part_bytes=300_000)
    assert len(parts) > 1
    back = load_parts(tmp_path)
    assert back["n"] == 3 and torch.equal(back["w"], state["w"])
