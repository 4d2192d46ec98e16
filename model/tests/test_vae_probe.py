"""flowfill.vae_probe: renders, three noise levels and a low-pass, each decoded at the renders' size."""
import torch

from flowfill.run import SMOKE
from flowfill.vae import AutoencoderKL
from flowfill.vae_probe import NOISE, probe_rows


def test_rows_are_the_renders_then_each_disturbance_decoded(data):
    torch.manual_seed(0)
    vae = AutoencoderKL(SMOKE["vae"]).eval()
    prompts = data.eval_sets["v1_emoji"][:2] + data.eval_sets["icons"][:1]
    rows = probe_rows(data, vae, {"shift_factor": 0.1, "scaling_factor": 2.0}, prompts, size=64)
    assert len(rows) == 1 + len(NOISE) + 1
    assert all(r.shape == (3, 3, 64, 64) for r in rows)
    assert all(float(r.abs().max()) <= 1.0 for r in rows)
    # Different disturbances decode to different images; the first row is the renders themselves.
    assert not torch.equal(rows[1], rows[2]) and not torch.equal(rows[1], rows[-1])
    assert float(rows[0].std()) > 0


def test_reconstructions_judged_by_style(data):
    """--judge-set: each style of the set counts its renders and their reconstructions the judge names right, the
    reconstructions' PSNR, and each side's mean blur effect; a random judge and VAE give small counts, but every image
    is counted once."""
    import numpy as np
    import pytest

    from flowfill.crispness import blur_effect
    from flowfill.evaluate import REAL_RENDER_SEED, real_renders
    from flowfill.classifier import FlowfillClassifier
    from flowfill.vae_probe import reconstructions_judged

    torch.manual_seed(0)
    state = {"vae": AutoencoderKL(SMOKE["vae"]).eval(),
             "classifier": FlowfillClassifier(len(data.subjects), len(data.styles)).to(data.device).eval()}
    data.eval_sets["tiny"] = data.eval_sets["icons"][:6]
    try:
        rows = reconstructions_judged(data, state, "tiny", size=64, batch=4)
    finally:
        del data.eval_sets["tiny"]
    styles = {data.styles[p["style"]] for p in data.eval_sets["icons"][:6]}
    assert set(rows) == styles and sum(r["n"] for r in rows.values()) == 6
    assert all(0 <= r["real"] <= r["n"] and 0 <= r["reconstructed"] <= r["n"] for r in rows.values())
    assert all(0 < r["psnr"] < 100 for r in rows.values())
    # The renders' blur effect is the mean of crispness's score over that style's renders, as they are drawn.
    prompts = data.eval_sets["icons"][:6]
    renders = ((real_renders(data, prompts, 64, 64, seed=REAL_RENDER_SEED) + 1) / 2).clamp(0, 1).cpu().numpy()
    for style, row in rows.items():
        mine = [blur_effect(im) for p, im in zip(prompts, renders) if data.styles[p["style"]] == style]
        assert row["blur_real"] == pytest.approx(float(np.mean(mine)), abs=1e-9)
        assert 0 < row["blur_reconstructed"] <= 1
