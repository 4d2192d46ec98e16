import math

import numpy as np
import pytest
import torch

from flowfill.bank import resolution_shift
from flowfill.data import bucket_size
from flowfill.quantize import dequantize, quantize_per_channel
from flowfill.run import parse_args
from flowfill.sampling import flow_match_sigmas
from flowfill.text_encoder import TEXT_CONFIG, CLIPTextModelWithProjection, sd3_conditioning
from flowfill.train import (CONV_MIN, LINEAR_MIN, KernelProfile, cooldown_factor, edge_loss, low_noise_share_at,
                            snap_to_int8, training_timesteps)
from flowfill.vae import VAE_CONFIG, AutoencoderKL


def test_scheduler_sigmas_match_diffusers_reference_values():
    s = flow_match_sigmas(4, 3.0)
    np.testing.assert_allclose(s, [1.0, 0.857692301273346, 0.602150559425354, 0.008928571827709675, 0.0], rtol=1e-6)


def test_rectified_flow_target_recovers_x0():
    x0, noise, t = torch.randn(4, 16, 4, 4), torch.randn(4, 16, 4, 4), torch.rand(4, 1, 1, 1)
    xt = (1 - t) * x0 + t * noise
    v = noise - x0  # the training target
    torch.testing.assert_close(xt - t * v, x0)


def test_buckets_are_multiples_of_16_near_native_area_from_1_4_to_4_1():
    for native in (256, 512):
        for r in (0.25, 1 / 3, 0.5, 1.0, 16 / 9, 4.0):
            h, w = bucket_size(r, native)
            assert h % 16 == 0 and w % 16 == 0
            assert abs(w / h - r) / r < 0.07 and abs(w * h - native * native) / native ** 2 < 0.07
    assert bucket_size(4.0, 512) == (256, 1024) and bucket_size(0.25, 512) == (1024, 256)


def test_resolution_shift_is_1_at_256_and_2_at_512():
    assert resolution_shift(256, 256) == 1.0 and resolution_shift(512, 512) == 2.0


def test_training_timesteps_noise_shift_moves_the_median_to_s_over_1_plus_s():
    """The logit-normal median 0.5 maps to s / (1 + s): 0.5 at 256² unshifted, 0.75 with noise_shift 3, and
    the 512² resolution shift (2) composes with it (6 / 7)."""
    def median(h, w, k):
        g = torch.Generator().manual_seed(0)
        return training_timesteps(200_000, h, w, g, "cpu", k).median().item()
    assert abs(median(256, 256, 1.0) - 0.5) < 0.01
    assert abs(median(256, 256, 3.0) - 0.75) < 0.01
    assert abs(median(512, 512, 3.0) - 6 / 7) < 0.01
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    t1, t3 = training_timesteps(1000, 256, 256, g1, "cpu", 1.0), training_timesteps(1000, 256, 256, g2, "cpu", 3.0)
    assert bool((t3 >= t1).all()) and 0 < float(t1.min()) and float(t3.max()) < 1  # the same draws, each moved toward noise


def test_training_timesteps_low_noise_share_keeps_that_share_at_the_resolution_shift_alone():
    """With noise shift 6 at 256², a share p of the times follows the unshifted law (P(t < 0.5) = 1/2) and the
    rest the shifted one (P(t < 0.5) = P(z < -ln 6) ≈ 0.036), so P(t < 0.5) = p/2 + (1 - p)·0.036; share 0
    draws exactly what the argument's absence draws, and share 1 is the unshifted law."""
    def draw(k, p, n=200_000):
        return training_timesteps(n, 256, 256, torch.Generator().manual_seed(3), "cpu", k, p)
    below_shifted = 0.5 * (1 + math.erf(-math.log(6) / math.sqrt(2)))
    for p in (0.25, 0.5):
        share = (draw(6.0, p) < 0.5).float().mean().item()
        assert abs(share - (p / 2 + (1 - p) * below_shifted)) < 0.01
    # Share 0 draws nothing extra: the same times as the shift alone always gave (slices before the option).
    t = torch.sigmoid(torch.randn(1000, generator=torch.Generator().manual_seed(3)))
    assert torch.allclose(draw(6.0, 0.0, 1000), 6 * t / (1 + 5 * t), rtol=0, atol=1e-7)
    assert abs(draw(6.0, 1.0).median().item() - 0.5) < 0.01


def test_low_noise_share_is_refused_out_of_range_or_without_a_noise_shift():
    base = ["--data", "d", "--resume-out", "o", "--eval-out", "e"]
    assert parse_args(base + ["--noise-shift", "6", "--low-noise-share", "0.25"]).low_noise_share == 0.25
    for bad in (["--noise-shift", "6", "--low-noise-share", "1.5"], ["--low-noise-share", "0.25"]):
        with pytest.raises(SystemExit):
            parse_args(base + bad)


def test_low_noise_share_aimed_at_named_sizes_leaves_the_others_at_the_shift():
    """--low-noise-at 512 gives the share to the 512² batches alone (session 53: the 512² contours are torn while
    256² draws clean), and without sizes every size takes it, as before the option."""
    assert low_noise_share_at(0.25, (512,), 512) == 0.25 and low_noise_share_at(0.25, (512,), 256) == 0.0
    assert low_noise_share_at(0.25, (), 256) == low_noise_share_at(0.25, (), 512) == 0.25
    assert low_noise_share_at(0.0, (512,), 512) == 0.0
    base = ["--data", "d", "--resume-out", "o", "--eval-out", "e", "--noise-shift", "6", "--mix", "256:0.4,512:0.6"]
    assert parse_args(base + ["--low-noise-share", "0.25", "--low-noise-at", "512"]).low_noise_at == (512,)
    assert parse_args(base + ["--low-noise-share", "0.25"]).low_noise_at == ()
    for bad in (["--low-noise-at", "512"],  # no share to aim
                ["--low-noise-share", "0.25", "--low-noise-at", "1024"],  # a size the mix never trains
                ["--low-noise-share", "0.25", "--low-noise-at", "big"]):
        with pytest.raises(SystemExit):
            parse_args(base + bad)


def test_edge_loss_reads_the_implied_clean_latents_edges_towards_low_noise():
    torch.manual_seed(0)
    x0, noise = torch.zeros(3, 16, 8, 8), torch.randn(3, 16, 8, 8)
    x0[..., :, 4:] = 1.0  # one vertical edge
    target = noise - x0
    t = torch.tensor([0.1, 0.5, 1.0])
    assert edge_loss(target, target, t) == 0
    # A prediction whose implied x0 (x_t − t·v) is the edge blurred over three columns costs more at low noise, and
    # nothing at t = 1 (the weight (1 − t)²).
    blurred = x0.clone()
    blurred[..., :, 3], blurred[..., :, 4] = 1 / 3, 2 / 3
    xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * noise
    v = (xt - blurred) / t[:, None, None, None]
    per_image = [edge_loss(v[i:i + 1], target[i:i + 1], t[i:i + 1]).item() for i in range(3)]
    assert per_image[0] > per_image[1] > 0 and per_image[2] == pytest.approx(0, abs=1e-7)
    # An error constant over the latent has no edges: the MSE sees it, this term does not.
    assert edge_loss(target + 0.3, target, t).item() == pytest.approx(0, abs=1e-7)
    v = v.clone().requires_grad_(True)
    edge_loss(v, target, t).backward()
    assert v.grad is not None and v.grad[:2].abs().sum() > 0
    base = ["--data", "d", "--resume-out", "o", "--eval-out", "e"]
    assert parse_args(base + ["--edge-loss", "0.5"]).edge_loss == 0.5 and parse_args(base).edge_loss == 0.0
    for bad in (["--edge-loss", "-1"], ["--edge-loss", "0.5", "--distill-guidance", "2", "--teacher", "x"]):
        with pytest.raises(SystemExit):
            parse_args(base + bad)


def test_cooldown_falls_linearly_to_its_end_over_the_call_and_is_off_at_one():
    assert cooldown_factor(0.0, 400.0, 0.1) == 1.0
    assert math.isclose(cooldown_factor(200.0, 400.0, 0.1), 0.55)
    assert math.isclose(cooldown_factor(400.0, 400.0, 0.1), 0.1)
    assert math.isclose(cooldown_factor(900.0, 400.0, 0.1), 0.1)  # a step past the budget stays at the end
    assert all(cooldown_factor(e, 400.0, 1.0) == 1.0 for e in (0.0, 123.0, 400.0))
    base = ["--data", "d", "--resume-out", "o", "--eval-out", "e"]
    assert parse_args(base).cooldown_to == 1.0
    assert parse_args(base + ["--cooldown-to", "0.1"]).cooldown_to == 0.1
    with pytest.raises(SystemExit):
        parse_args(base + ["--cooldown-to", "2"])


def test_vae_downsamples_8x_to_16_channels_without_normalisation():
    vae = AutoencoderKL(VAE_CONFIG)
    mean, logvar = vae.encode_moments(torch.randn(1, 3, 64, 96))
    assert mean.shape == (1, 16, 8, 12) and logvar.shape == mean.shape
    assert vae.decode(mean).shape == (1, 3, 64, 96)
    # No per-image normalisation anywhere (the cause of v1's corner glyph).
    assert not any(isinstance(m, (torch.nn.GroupNorm, torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d, torch.nn.LayerNorm)) for m in vae.modules())


def test_vae_is_translation_equivariant_away_from_borders():
    """Without global statistics, a shifted image gives a shifted latent (by whole latent pixels)."""
    torch.manual_seed(0)
    vae = AutoencoderKL(VAE_CONFIG)
    with torch.no_grad():
        for p in vae.parameters():
            p.add_(torch.randn_like(p) * 0.02)
        x = torch.randn(1, 3, 256, 256)
        a = vae.encode_moments(x)[0]
        b = vae.encode_moments(torch.roll(x, shifts=(16, 24), dims=(2, 3)))[0]
    inner = (slice(None), slice(None), slice(12, 20), slice(12, 20))
    torch.testing.assert_close(torch.roll(a, shifts=(2, 3), dims=(2, 3))[inner], b[inner], atol=1e-4, rtol=1e-4)


def test_text_conditioning_is_sd3_layout():
    cfg = dict(TEXT_CONFIG, vocab_size=50)
    te = CLIPTextModelWithProjection(cfg)
    h, L = cfg["hidden_size"], cfg["max_position_embeddings"]
    ids = torch.tensor([[2, 10, 11, 3] + [0] * (L - 4)])
    pooled, last, hidden = te(ids)
    assert len(hidden) == cfg["num_hidden_layers"] + 1
    ctx, pooled2 = sd3_conditioning(te, ids, joint_attention_dim=h + 32, max_sequence_length=4)
    assert ctx.shape == (1, L + 4, h + 32)
    torch.testing.assert_close(ctx[:, :L, :h], hidden[-2])
    assert torch.count_nonzero(ctx[:, :L, h:]) == 0 and torch.count_nonzero(ctx[:, L:]) == 0
    torch.testing.assert_close(pooled, pooled2)
    # Pooled comes from the <eos> position: changing a pad token after it leaves it unchanged (causal mask).
    ids_b = ids.clone()
    ids_b[0, 10] = 7
    torch.testing.assert_close(te(ids_b)[0], pooled)


def test_int8_rounding_is_per_output_channel_bounded_and_idempotent():
    w = np.random.default_rng(0).standard_normal((64, 300)).astype(np.float32) * np.linspace(0.01, 3, 64, dtype=np.float32)[:, None]
    q, s = quantize_per_channel(w, 0)
    assert q.dtype == np.int8 and s.shape == (64,) and np.abs(q).max() == 127
    back = dequantize(q, s, 0)
    assert (np.abs(back - w) <= s[:, None] / 2 + 1e-7).all()
    q2, s2 = quantize_per_channel(back, 0)
    np.testing.assert_array_equal(q2, q)
    np.testing.assert_allclose(s2, s, rtol=1e-6)


def test_snap_to_int8_touches_exactly_the_weights_that_ship_as_int8():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(256, 128), torch.nn.Linear(64, 64), torch.nn.Conv2d(64, 8, 3), torch.nn.Conv2d(3, 8, 3))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    assert snap_to_int8(net) == 2  # 256*128 >= LINEAR_MIN and 64*8*9 >= CONV_MIN; the others are too small
    after = net.state_dict()
    assert 256 * 128 >= LINEAR_MIN > 64 * 64 and 64 * 8 * 9 >= CONV_MIN > 3 * 8 * 9
    for k in before:
        changed = not torch.equal(before[k], after[k])
        assert changed == (k in ("0.weight", "2.weight")), k
    again = {k: v.clone() for k, v in net.state_dict().items()}
    snap_to_int8(net)
    for k in again:
        torch.testing.assert_close(net.state_dict()[k], again[k], atol=1e-7, rtol=0)


def test_step_phases_measure_only_their_window_and_report_every_phase():
    from flowfill.train import StepPhases

    phases = StepPhases("cpu", first=3, count=2)
    reports = []
    for step in range(8):
        phases.begin(step)
        phases.mark("a")
        phases.mark("b")
        if phases.done(step + 1):
            reports.append((step + 1, phases.report()))
    assert [s for s, _ in reports] == [5]
    assert "a " in reports[0][1] and "b " in reports[0][1] and "over 2 synchronised steps" in reports[0][1]


def test_native_mix_parses_and_keeps_the_tokens_of_a_step():
    import pytest
    from flowfill.train import DEFAULT_MIX, images_per_step, parse_mix

    assert parse_mix("256:0.75,512:0.25") == DEFAULT_MIX
    assert parse_mix("128:0.5,256:0.3,512:0.2") == {128: 0.5, 256: 0.3, 512: 0.2}
    for bad in ("", "256", "250:1", "256:-1,512:1", "256:0"):
        with pytest.raises(ValueError):
            parse_mix(bad)
    assert [images_per_step(256, n) for n in (128, 256, 512)] == [1024, 256, 64]
    assert images_per_step(32, 512) == 8 and images_per_step(1, 512) == 1


def test_bank_draws_native_sizes_by_the_mix(data):
    import numpy as np
    from flowfill.bank import LatentBank

    bank = LatentBank(data, lambda x: x[:, :1], natives=(128, 256), capacity=(1, 1))
    bank.filled = [1] * len(bank.buckets)  # pick_bucket only looks at which buckets hold entries
    natives = np.array([bank.buckets[bank.pick_bucket({128: 0.8, 256: 0.2})][0] for _ in range(4000)])
    assert abs((natives == 128).mean() - 0.8) < 0.03
    assert {bank.buckets[bank.pick_bucket({256: 1.0})][0] for _ in range(50)} == {256}


def test_paired_caption_loss_prefers_matching_wordings_and_trains_them_apart():
    from flowfill.train import paired_caption_loss

    g = torch.Generator().manual_seed(0)
    a = torch.randn(16, 32, generator=g)
    matched = paired_caption_loss(a, a + 0.05 * torch.randn(16, 32, generator=g))
    shuffled = paired_caption_loss(a, a[torch.randperm(16, generator=g)])
    assert matched < 0.1 < shuffled
    # Features that cannot tell rows apart cost log(n) whatever the pairing.
    same = torch.ones(16, 32)
    assert abs(paired_caption_loss(same, same).item() - math.log(16)) < 1e-4
    # Its gradient pulls collapsed features apart.
    x = (torch.ones(8, 4) + 0.01 * torch.randn(8, 4, generator=g)).requires_grad_()
    before = paired_caption_loss(x, x.detach()).item()
    torch.optim.SGD([x], lr=1.0).zero_grad()
    paired_caption_loss(x, x.detach()).backward()
    with torch.no_grad():
        x -= 1.0 * x.grad
    assert paired_caption_loss(x, x.detach()).item() < before


def test_kernel_profile_watches_its_window_only_and_reports_the_steps_it_watched():
    layer = torch.nn.Linear(64, 64)
    profile = KernelProfile("cpu", first=3, count=2)
    report = None
    for step in range(8):
        profile.begin(step)
        layer(torch.randn(32, 64)).sum().backward()
        if profile.done(step + 1):
            report = profile.report()
    assert report is not None and report.startswith("dit kernel profile over 2 steps: wall ")
    assert "aten::" in report  # the ops it saw, by name
    off = KernelProfile("cpu", first=0, count=0)
    off.begin(0)
    assert off.prof is None and not off.done(0)


def test_the_training_forward_is_the_text_encoder_then_the_mmdit_and_returns_the_pooled_features():
    from flowfill.mmdit import DIT_CONFIG, SD3Transformer2DModel
    from flowfill.train import MAX_SEQUENCE_LENGTH, Bf16Forward

    torch.manual_seed(0)
    te = CLIPTextModelWithProjection(dict(TEXT_CONFIG, vocab_size=50))
    dit = SD3Transformer2DModel(dict(DIT_CONFIG, num_layers=2))
    ids = torch.randint(0, 50, (2, TEXT_CONFIG["max_position_embeddings"]))
    x, t = torch.randn(2, 16, 4, 6), torch.tensor([100.0, 900.0])
    v, pooled = Bf16Forward(dit, te)(x, t, ids)
    ctx, pooled_alone = sd3_conditioning(te, ids, DIT_CONFIG["joint_attention_dim"], MAX_SEQUENCE_LENGTH)
    assert torch.equal(pooled, pooled_alone)
    assert torch.equal(v, dit(x, t, ctx, pooled_alone))
    assert torch.equal(Bf16Forward(dit)(x, t, ctx, pooled_alone), v)  # the distilling form: conditioning given
    v.float().pow(2).mean().backward()
    assert all(p.grad is not None for p in te.parameters() if p.requires_grad and p.dim() > 1)


def test_cuda_graphs_in_training_need_a_cuda_device():
    from flowfill.mmdit import DIT_CONFIG, SD3Transformer2DModel
    from flowfill.train import DitTrainer

    class Data:
        device = torch.device("cpu")

        def tokenize(self, texts):
            return torch.zeros(len(texts), TEXT_CONFIG["max_position_embeddings"], dtype=torch.long)

    te = CLIPTextModelWithProjection(dict(TEXT_CONFIG, vocab_size=50))
    dit = SD3Transformer2DModel(dict(DIT_CONFIG, num_layers=2))
    stats = {"shift_factor": 0.0, "scaling_factor": 1.0}
    with pytest.raises(ValueError, match="needs a CUDA device"):
        DitTrainer(Data(), te, dit, te, dit, stats, cuda_graphs=True)
    assert parse_args(["--data", "d", "--resume-out", "r", "--eval-out", "e", "--cuda-graphs"]).cuda_graphs


def test_a_cuda_graph_capture_out_of_memory_drops_every_graph_and_goes_on_eagerly(monkeypatch):
    # No CUDA here: the capture is stood in for by a replay that doubles, so a result tells which path ran.
    from flowfill.train import GraphedForward

    captured = []

    def capture(holder, samples, pool):
        if samples[0].shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 158.00 MiB.")
        captured.append(samples[0].shape)
        return lambda x: 2 * holder(x)

    monkeypatch.setattr(torch.cuda, "graph_pool_handle", lambda: "pool")
    monkeypatch.setattr(torch.cuda, "make_graphed_callables", capture)
    reports = []
    forward = GraphedForward(torch.nn.Identity(), report=reports.append)
    small, large = torch.ones(2, 3), torch.ones(4, 3)
    assert torch.equal(forward(small), 2 * small)  # captured and replayed
    assert torch.equal(forward(large), large)  # the capture failed: this step ran eagerly
    assert forward.eager and not forward.graphs and forward.pool is None
    assert len(reports) == 1 and "out of memory capturing shape [[4, 3]] after 1 shape(s)" in reports[0]
    assert torch.equal(forward(small), small)  # the shape captured before is eager too now
    assert captured == [torch.Size([2, 3])] and len(reports) == 1


@pytest.mark.parametrize("edge", [0.0, 0.5])
def test_no_output_of_a_training_step_outlives_it(data, smoke_student, edge):
    """A graphed forward's outputs pin its CUDA graphs through their autograd nodes. In session 37 the previous step's
    outputs, still bound in the training loop, kept 54 GB of graphs alive after a capture ran out of memory, and the
    eager forward that was to replace them ran out of memory too. Here the forward checks, at each call, that the
    previous call's outputs are gone (the text contrast and the edge term build more losses on them), and so are the
    gradients."""
    import gc
    import weakref

    from flowfill.train import DitTrainer

    te, dit, te_ema, dit_ema, bank = smoke_student
    trainer = DitTrainer(data, te, dit, te_ema, dit_ema, {"shift_factor": 0.0, "scaling_factor": 1.0}, batch=4,
                         refresh=0, mix={128: 1.0}, text_contrast=0.05, edge=edge)

    class Watched:
        def __init__(self, forward):
            self.forward, self.previous, self.alive, self.grads = forward, [], [], []

        def __call__(self, *args):
            gc.collect()  # as GraphedForward's fallback does before its eager forward
            self.alive.append(sum(ref() is not None for ref in self.previous))
            self.grads.append(sum(p.grad is not None for p in trainer.params))
            outputs = self.forward(*args)
            self.previous = [weakref.ref(o) for o in outputs]
            return outputs

    trainer.student = watched = Watched(trainer.student)
    state = trainer.run(bank, 1.0, {}, total_seconds=100.0, log=lambda *_: None)
    assert state["dit_steps"] >= 2 and len(watched.alive) == state["dit_steps"]
    assert watched.alive == [0] * state["dit_steps"] and watched.grads == [0] * state["dit_steps"]


def test_edge_probe_measures_the_terms_share_on_a_state(data):
    from flowfill.edge_probe import probe
    from flowfill.run import SMOKE
    from flowfill.train import build_models

    torch.manual_seed(0)
    te, dit = build_models(len(data.tokenizer), data.device, SMOKE["dit"], SMOKE["text"])
    state = {"te": te.eval(), "dit": dit.eval(), "vae": AutoencoderKL(SMOKE["vae"]).eval(),
             "latent_stats": {"shift_factor": 0.1, "scaling_factor": 1.3}}
    got = probe(state, data, size=128, n=4, noise_shift=6.0, seed=0)
    assert got["mse"] > 0 and got["edge_term"] > 0
    shares = list(got["edge_share_at"].values())
    assert shares == sorted(shares) and 0 < shares[0] < shares[-1] < 1
    assert got["edge_share_at"][1.0] == pytest.approx(got["edge_term"] / (got["mse"] + got["edge_term"]))
