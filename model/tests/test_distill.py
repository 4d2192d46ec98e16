"""Guidance distillation (flowfill.distill): the student's target is the teacher's velocity under CFG, computed as
the sampler computes it; a state remembers its teacher and guidance, and refuses another or plain training."""
import shutil
from pathlib import Path

import pytest
import torch

from flowfill import distill
from flowfill.resume import load_transformer
from flowfill.sampling import guided_velocity

TEACHER = Path(__file__).resolve().parents[2] / "test" / "model" / "fixtures" / "int8-tiny" / "package" / "transformer"


def inputs(dit, batch=2, side=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    cfg = dit.config
    tokens = 6
    latents = torch.randn(batch, cfg["in_channels"], side, side, generator=g)
    t = torch.rand(batch, generator=g) * 1000
    ctx, uctx = (torch.randn(batch, tokens, cfg["joint_attention_dim"], generator=g) for _ in range(2))
    pooled, upooled = (torch.randn(batch, cfg["pooled_projection_dim"], generator=g) for _ in range(2))
    return latents, t, ctx, pooled, uctx, upooled


def test_the_target_is_the_teachers_cfg_velocity_and_its_conditional_one_at_guidance_1():
    teacher = load_transformer(TEACHER).eval()
    latents, t, ctx, pooled, uctx, upooled = inputs(teacher)
    with torch.no_grad():
        vc = teacher(latents, t, ctx, pooled)
        vu = teacher(latents, t, uctx, upooled)
    target = distill.teacher_target(teacher, latents, t, ctx, pooled, uctx, upooled, 2.5)
    torch.testing.assert_close(target, vu + 2.5 * (vc - vu), rtol=1e-4, atol=1e-5)
    assert not target.requires_grad
    torch.testing.assert_close(distill.teacher_target(teacher, latents, t, ctx, pooled, uctx, upooled, 1.0), vc)
    # A student that starts as its teacher and samples at guidance 1 begins at the teacher's conditional velocity:
    # the distance it has to learn is (g − 1)·(vc − vu), not zero.
    gap = (target - guided_velocity(teacher, latents, t, ctx, pooled, uctx, upooled, 1.0)).abs().max()
    assert gap > 1e-3


def state_with(dit, steps=40):
    return {"dit": dit, "dit_steps": steps}


def test_the_first_call_records_teacher_guidance_and_step_and_later_calls_must_match(tmp_path):
    state = state_with(load_transformer(TEACHER))
    teacher = distill.prepare(state, 2.0, str(TEACHER), "cpu", log=lambda _: None)
    assert not any(p.requires_grad for p in teacher.parameters())
    assert state["distill"] == {"guidance": 2.0, "teacher_transformer_sha256": distill.transformer_sha256(TEACHER), "from_dit_step": 40}
    state["dit_steps"] = 90
    assert distill.prepare(state, 2.0, str(TEACHER), "cpu", log=lambda _: None) is not None
    assert state["distill"]["from_dit_step"] == 40
    with pytest.raises(ValueError, match="at guidance 2"):
        distill.prepare(state, 3.0, str(TEACHER), "cpu", log=lambda _: None)
    other = tmp_path / "other"
    shutil.copytree(TEACHER, other)
    with open(other / "model.onnx", "ab") as f:
        f.write(b"\0")
    with pytest.raises(ValueError, match="this call names"):
        distill.prepare(state, 2.0, str(other), "cpu", log=lambda _: None)
    with pytest.raises(ValueError, match="--distill-guidance 2"):
        distill.prepare(state, None, None, "cpu", log=lambda _: None)


def test_bad_requests_are_refused_before_any_training():
    fresh = state_with(load_transformer(TEACHER))
    assert distill.prepare(fresh, None, None, "cpu", log=print) is None and "distill" not in fresh
    for guidance, teacher, state, message in (
        (1.0, str(TEACHER), fresh, "guidance above 1"),
        (2.0, None, fresh, "needs --teacher"),
        (2.0, str(TEACHER), {}, "starts from a trained state"),
    ):
        with pytest.raises(ValueError, match=message):
            distill.prepare(state, guidance, teacher, "cpu", log=print)
    assert "distill" not in fresh


def test_run_refuses_a_teacher_without_a_guidance():
    from flowfill.run import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--resume-out", "o", "--eval-out", "e", "--teacher", "t"])
    a = parse_args(["--data", "d", "--resume-out", "o", "--eval-out", "e", "--teacher", "t", "--distill-guidance", "2"])
    assert (a.teacher, a.distill_guidance) == ("t", 2.0)


def test_the_distilling_trainer_trains_the_transformer_alone(data):
    from flowfill.run import SMOKE
    from flowfill.train import DitTrainer, build_models

    te, dit = build_models(len(data.tokenizer), data.device, SMOKE["dit"], SMOKE["text"])
    te_ema, dit_ema = build_models(len(data.tokenizer), data.device, SMOKE["dit"], SMOKE["text"])
    stats = {"shift_factor": 0.0, "scaling_factor": 1.0}
    plain = DitTrainer(data, te, dit, te_ema, dit_ema, stats, batch=8)
    assert len(plain.params) == len(list(dit.parameters())) + len(list(te.parameters()))
    student = DitTrainer(data, te, dit, te_ema, dit_ema, stats, batch=8, teacher=dit_ema, distill={"guidance": 2.0, "from_dit_step": 0})
    assert student.params == list(dit.parameters()) and not any(p.requires_grad for p in te.parameters())
    with pytest.raises(ValueError, match="text encoder"):
        DitTrainer(data, te, dit, te_ema, dit_ema, stats, batch=8, teacher=dit_ema, distill={"guidance": 2.0, "from_dit_step": 0}, text_contrast=0.05)


def test_a_distilling_step_trains_the_student_on_the_teachers_guided_velocity_and_leaves_the_teacher(data, smoke_student):
    from flowfill.run import SMOKE
    from flowfill.train import DitTrainer, build_models

    te, dit, te_ema, dit_ema, bank = smoke_student
    teacher = build_models(len(data.tokenizer), data.device, SMOKE["dit"], SMOKE["text"])[1].requires_grad_(False)
    for p in teacher.parameters():  # a fresh MM-DiT's AdaLN-Zero modulation draws nothing: give the teacher something to draw
        p.add_(0.02 * torch.randn_like(p))
    trainer = DitTrainer(data, te, dit, te_ema, dit_ema, {"shift_factor": 0.0, "scaling_factor": 1.0}, batch=4, refresh=0,
                         mix={128: 1.0}, teacher=teacher, distill={"guidance": 2.0, "from_dit_step": 0})
    before = {k: v.clone() for k, v in dit.state_dict().items()}
    frozen = {k: v.clone() for k, v in teacher.state_dict().items()}
    state = trainer.run(bank, 0.01, {}, total_seconds=100.0, log=lambda *_: None)
    assert state["dit_steps"] >= 1
    assert any(not torch.equal(before[k], v) for k, v in dit.state_dict().items())
    assert all(torch.equal(frozen[k], v) for k, v in teacher.state_dict().items())
