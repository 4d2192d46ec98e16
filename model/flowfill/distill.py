"""Guidance distillation: an MM-DiT that draws in one pass what its teacher draws with classifier-free guidance.

Sampling with CFG runs the transformer on the prompt and on the empty prompt every step (batch 2); a student
trained to predict the teacher's guided velocity, vu + g·(vc − vu), from the prompt alone samples at guidance 1,
which diffusers' StableDiffusion3Pipeline and the engine run at batch 1: the same images for half the transformer
work. The architecture is unchanged (SD3 has no guidance input, so g is fixed per model and recorded), and so is
the text encoder: the student conditions on the teacher's text features, which stay frozen.

The teacher is a package's transformer/ folder. It travels between GPU calls beside the state (the resumed state
holds only the student), and its hash is kept in the state so a later call cannot distil from another teacher.
"""
import hashlib
from pathlib import Path

import torch

from .sampling import guided_velocity


def teacher_target(teacher, xt, t, ctx, pooled, uctx, upooled, guidance: float) -> torch.Tensor:
    """What the student learns to predict from (xt, t, prompt): the teacher's velocity under CFG at `guidance`,
    computed exactly as the sampler computes it."""
    with torch.no_grad():
        return guided_velocity(teacher, xt, t, ctx, pooled, uctx, upooled, guidance)


def transformer_sha256(folder) -> str:
    return hashlib.sha256((Path(folder) / "model.onnx").read_bytes()).hexdigest()


def prepare(state: dict, guidance: float | None, teacher_dir: str | None, device, log):
    """The frozen teacher for this call, or None when the call does not distil.

    The first distilling call records {guidance, teacher's hash, the step it began at} in state["distill"];
    later calls must name the same teacher and guidance, and a distilled state cannot go back to plain
    training (its predictions are guided ones; the data loss would train them back)."""
    from .resume import load_transformer

    done = state.get("distill")
    if guidance is None:
        if done:
            raise ValueError(f"the resumed MM-DiT is distilled from a teacher at guidance {done['guidance']:g}: continue with "
                             f"--distill-guidance {done['guidance']:g} --teacher <its transformer folder>")
        return None
    if guidance <= 1:
        raise ValueError(f"--distill-guidance {guidance:g}: guidance above 1 (at 1 or less the teacher's velocity is its conditional one)")
    if not teacher_dir:
        raise ValueError("--distill-guidance needs --teacher: the transformer/ folder of the package to distil")
    if "dit" not in state:
        raise ValueError("--distill-guidance starts from a trained state (--resume-in): the student begins as its teacher")
    sha = transformer_sha256(teacher_dir)
    if done and (done["teacher_transformer_sha256"] != sha or done["guidance"] != guidance):
        raise ValueError(f"the resumed state is distilled from teacher {done['teacher_transformer_sha256'][:12]}… at guidance "
                         f"{done['guidance']:g}; this call names {sha[:12]}… at {guidance:g}")
    teacher = load_transformer(teacher_dir).to(device).eval().requires_grad_(False)
    if teacher.config != state["dit"].config:
        raise ValueError(f"--teacher {teacher_dir}: its MM-DiT config differs from the resumed one's")
    if not done:
        state["distill"] = {"guidance": guidance, "teacher_transformer_sha256": sha, "from_dit_step": state.get("dit_steps", 0)}
    log(f"dit: distilling the guidance of teacher {sha[:12]}… at {guidance:g} (since step {state['distill']['from_dit_step']}); "
        "the text encoder is frozen and the student samples at guidance 1")
    return teacher
