"""On-policy distillation (flowfill.on_policy): the pool's rows are the sampler's own Euler trajectories under
the student's velocity, staggered over the steps, restarted from fresh noise and captions at the end, and a
distilling trainer trains on them."""
import pytest
import torch

from flowfill.on_policy import TrajectoryPool
from flowfill.sampling import flow_match_sigmas

SHAPE = (2, 3, 3)


def velocity(x, t1000, ids):
    # Depends on the state, the time and the caption, so a wrong one of any shows.
    return -0.5 * x + (t1000 / 1000)[:, None, None, None] + ids[:, :1, None, None].float() / 10


class Captions:
    def __init__(self):
        self.drawn = 0

    def __call__(self, n):
        ids = torch.arange(self.drawn, self.drawn + n)[:, None].repeat(1, 4)
        self.drawn += n
        return ids


def euler(x, ids, shift, steps, upto):
    """The sampler's loop (sampling.generate) for one row, `upto` steps from x."""
    sig = flow_match_sigmas(steps, shift)
    for i in range(upto):
        t = torch.tensor([float(sig[i] * 1000)], dtype=torch.float32)
        x = x + float(sig[i + 1] - sig[i]) * velocity(x, t, ids)
    return x


def test_rows_are_the_samplers_euler_trajectories_staggered_over_the_steps():
    rows, steps, shifts = 4, 8, (1.0, 3.0)
    pool = TrajectoryPool(rows, SHAPE, steps, velocity, Captions(), torch.Generator().manual_seed(5), shifts=shifts)
    replay = torch.Generator().manual_seed(5)
    noise = torch.randn((rows, *SHAPE), generator=replay)
    shift = torch.randint(len(shifts), (rows,), generator=replay)
    assert pool.phase.tolist() == [0, 2, 4, 6]
    x, t, (ids,) = pool.current()
    assert ids[:, 0].tolist() == [0, 1, 2, 3]
    for r in range(rows):
        want = euler(noise[r:r + 1], ids[r:r + 1], shifts[shift[r]], steps, pool.phase[r].item())
        torch.testing.assert_close(x[r:r + 1], want, rtol=1e-5, atol=1e-6)
        assert t[r].item() == pytest.approx(float(flow_match_sigmas(steps, shifts[shift[r]])[pool.phase[r]]))


def test_a_row_past_the_last_step_restarts_from_fresh_noise_on_a_fresh_caption():
    captions = Captions()
    pool = TrajectoryPool(2, SHAPE, 3, velocity, captions, torch.Generator().manual_seed(0), shifts=(3.0,))
    assert pool.phase.tolist() == [0, 1]
    pool.advance()
    pool.advance()  # row 1 ran its third step: it starts again
    assert pool.phase.tolist() == [2, 0]
    assert pool.cond[0][:, 0].tolist() == [0, 2] and captions.drawn == 3
    assert pool.t()[1].item() == 1.0  # pure noise again
    pool.advance()
    assert pool.phase.tolist() == [0, 1] and pool.cond[0][:, 0].tolist() == [3, 2]


def test_a_pool_needs_rows_and_steps():
    with pytest.raises(ValueError, match="rows and steps"):
        TrajectoryPool(0, SHAPE, 20, velocity, Captions(), torch.Generator())


def test_on_policy_needs_a_teacher_and_run_needs_a_guidance():
    from flowfill.run import parse_args

    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--resume-out", "o", "--eval-out", "e", "--distill-on-policy", "0.25"])
    with pytest.raises(SystemExit):
        parse_args(["--data", "d", "--resume-out", "o", "--eval-out", "e", "--teacher", "t", "--distill-guidance", "2",
                    "--distill-on-policy", "1.5"])
    a = parse_args(["--data", "d", "--resume-out", "o", "--eval-out", "e", "--teacher", "t", "--distill-guidance", "2",
                    "--distill-on-policy", "0.25"])
    assert a.distill_on_policy == 0.25


def test_a_distilling_trainer_trains_on_its_trajectory_pools(data, smoke_student):
    from flowfill.run import SMOKE
    from flowfill.train import DitTrainer, build_models

    te, dit, te_ema, dit_ema, bank = smoke_student
    teacher = build_models(len(data.tokenizer), data.device, SMOKE["dit"], SMOKE["text"])[1].requires_grad_(False)
    stats = {"shift_factor": 0.0, "scaling_factor": 1.0}
    with pytest.raises(ValueError, match="needs a teacher"):
        DitTrainer(data, te, dit, te_ema, dit_ema, stats, batch=8, on_policy=0.5)
    channels = dit.config["in_channels"]
    trainer = DitTrainer(data, te, dit, te_ema, dit_ema, stats, batch=4, refresh=0, mix={128: 1.0}, teacher=teacher,
                         distill={"guidance": 2.0, "from_dit_step": 0}, on_policy=0.5, sampler_steps=4)
    logged = []
    state = trainer.run(bank, 0.01, {}, total_seconds=100.0, log=logged.append)
    assert state["dit_steps"] >= 1 and trainer.pools
    staggered = (torch.arange(8) * 4) // 8
    for k, pool in trainer.pools.items():
        assert len(pool.x) == 8 and pool.x.shape[1:] == (channels, bank.buckets[k][1] // 8, bank.buckets[k][2] // 8)
        assert torch.isfinite(pool.x).all()
        # Every step that drew from a pool moved each of its rows on (or round to a fresh start).
        assert (pool.phase.cpu() != staggered).all()
    assert any("on-policy rows 50%" in line for line in logged)
