"""On-policy guidance distillation: part of each distilling batch is drawn from the student's own sampling
trajectories instead of from noised training images.

Noising an image puts x_t on the straight line between that image and its noise. The sampler never
visits those points once the model's velocity is a guided one: guidance pushes a trajectory off the
lines (stronger colour, harder edges), and a student that has learnt the teacher only on the lines
meets states it was never trained at, and its small errors compound over the 20 steps. A pool of
trajectories that the student itself integrates, one Euler step per training step that uses them,
puts those states into the batch, where the teacher's guided velocity is the target as everywhere
else (train.DitTrainer; run.py --distill-on-policy).

One pool per latent bucket (one shape per pool, so a CUDA-graphed step keeps its shapes): its rows
are at staggered steps of the sampler, each on its own caption and its own sampler shift, and a row
that reaches the last step starts again from fresh noise on a fresh caption. A row keeps its caption's
conditioning from its start (the distilling text encoder is frozen), so a caption is encoded once, not at
every step the row takes. Each call of `advance` costs one no-gradient forward of the pool's rows: at
half the batch, 56–61 ms of a 250 ms step on one H200 (model/README.md, "On-policy distillation")."""
import numpy as np
import torch

from .evaluate import SAMPLER_SHIFTS
from .sampling import flow_match_sigmas


class TrajectoryPool:
    """`rows` sampler trajectories of `steps` Euler steps in latents of `shape` (C, H, W).

    draw(n) gives the conditioning of n fresh captions, a tensor or a tuple of tensors with one row per
    caption (caption ids, or a frozen text encoder's (ctx, pooled)); velocity(x, t1000, *conditioning) -> v
    is the student's velocity without gradients. A row's shift is drawn from `shifts` at each start, so
    the pool covers every sampler the evaluation may choose (evaluate.choose_scheduler's shifts)."""

    def __init__(self, rows: int, shape: tuple, steps: int, velocity, draw, generator: torch.Generator,
                 shifts=SAMPLER_SHIFTS, device="cpu"):
        if rows < 1 or steps < 1:
            raise ValueError(f"a trajectory pool needs rows and steps (got {rows} rows, {steps} steps)")
        self.velocity, self.draw, self.gen, self.steps, self.device = velocity, draw, generator, steps, device
        # [len(shifts), steps + 1] sigmas, exactly the sampler's (float32, last 0).
        self.sigmas = torch.tensor(np.stack([flow_match_sigmas(steps, s) for s in shifts]), device=device)
        self.x = torch.randn((rows, *shape), generator=generator, device=device)
        self.phase = torch.zeros(rows, dtype=torch.long, device=device)
        self.shift = torch.randint(len(shifts), (rows,), generator=generator, device=device)
        self.cond = self._drawn(rows)
        # Staggered from the start: row i is i·steps/rows steps along, so every noise level is in the batch at once.
        target = (torch.arange(rows, device=device) * steps) // rows
        for j in range(int(target.max())):
            self._step(target > j)

    def current(self):
        """(x_t, t in [0, 1], the conditioning tuple) of every row: the states to train at."""
        return self.x, self.t(), self.cond

    def t(self) -> torch.Tensor:
        return self.sigmas[self.shift, self.phase]

    def advance(self):
        """One Euler step of every row with the student's velocity; rows past the last step start again."""
        self._step(torch.ones_like(self.phase, dtype=torch.bool))
        done = self.phase >= self.steps
        if done.any():
            self._restart(done)

    @torch.no_grad()
    def _step(self, rows: torch.Tensor):
        if not rows.any():
            return
        now = self.sigmas[self.shift[rows], self.phase[rows]]
        nxt = self.sigmas[self.shift[rows], self.phase[rows] + 1]
        # t as the sampler passes it: float32(sigma · 1000).
        v = self.velocity(self.x[rows], now * 1000, *(c[rows] for c in self.cond)).float()
        self.x[rows] = self.x[rows] + (nxt - now)[:, None, None, None] * v
        self.phase[rows] += 1

    def _restart(self, rows: torch.Tensor):
        n = int(rows.sum())
        self.x[rows] = torch.randn((n, *self.x.shape[1:]), generator=self.gen, device=self.device)
        self.phase[rows] = 0
        self.shift[rows] = torch.randint(len(self.sigmas), (n,), generator=self.gen, device=self.device)
        for held, fresh in zip(self.cond, self._drawn(n)):
            held[rows] = fresh

    def _drawn(self, n: int) -> tuple:
        drawn = self.draw(n)
        return tuple(drawn) if isinstance(drawn, (tuple, list)) else (drawn,)
