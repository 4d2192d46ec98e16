"""Checkpoint averaging: one state whose text encoder and MM-DiT are the mean of several states of one line.

Each call of a line exports its EMA (decay 0.999, an average over ~1,000 steps), and a call trains ~650 steps at
batch 1,024, so every state averages little more than its own call. Along the schedule's low-learning-rate tail
the calls' states differ by more than their paired checks' errors (session 44: v1_emoji at 512² reads 89.5, 86.2
and 85.2 % at calls 20–22, while the 256² rates climb), so a mean over calls is the next candidate.

The VAE and the latent statistics are the line's own and frozen: every state must carry the same ones, or the mean
would decode with a VAE none of its parts was trained against; that is refused. The result is a resumable state like
any other (package + extras.json + classifier.npz), with the newest state's judge, extras, recommended sampler and
vocabulary, and `averaged_from` in its extras and its flowfill.json's training summary.

  python3 -m flowfill.average_states OUT STATE [STATE ...] [--weights 1,1,2] [--data .cache/data]
"""
import argparse
import copy
from pathlib import Path

import torch

from . import resume


def average_modules(modules: list[torch.nn.Module], weights: list[float]) -> torch.nn.Module:
    """A copy of the first module whose floating-point parameters and buffers are the weighted mean of all."""
    if len(modules) != len(weights) or not modules:
        raise ValueError(f"{len(modules)} modules and {len(weights)} weights")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
    dicts = [m.state_dict() for m in modules]
    want = {k: tuple(v.shape) for k, v in dicts[0].items()}
    for i, d in enumerate(dicts[1:], 1):
        shapes = {k: tuple(v.shape) for k, v in d.items()}
        if shapes != want:
            differ = sorted(k for k in set(shapes) | set(want) if shapes.get(k) != want.get(k))
            raise ValueError(f"state {i} has another architecture: {differ[:5]}")
    total = float(sum(weights))
    mean = {}
    for k, v in dicts[0].items():
        if v.is_floating_point():
            acc = torch.zeros_like(v, dtype=torch.float64)
            for d, w in zip(dicts, weights):
                acc += d[k].to(torch.float64) * (w / total)
            mean[k] = acc.to(v.dtype)
        else:
            mean[k] = v.clone()
    out = copy.deepcopy(modules[0])
    out.load_state_dict(mean, strict=True)
    return out


def same_frozen_parts(states: list[dict], folders: list[str]) -> None:
    """Refuses states whose VAE or latent statistics differ from the first's."""
    first_vae = states[0]["vae"].state_dict()
    for state, folder in zip(states[1:], folders[1:]):
        if state.get("latent_stats") != states[0].get("latent_stats"):
            raise ValueError(f"{folder}: latent statistics differ from {folders[0]}'s; average states of one line only")
        vae = state["vae"].state_dict()
        if set(vae) != set(first_vae) or any(not torch.equal(vae[k], first_vae[k]) for k in vae):
            raise ValueError(f"{folder}: its VAE differs from {folders[0]}'s; average states of one line only")


def average_states(out, folders: list[str], data, weights: list[float] | None = None, log=print) -> dict:
    """Writes the averaged state to `out`; returns the export's report. The newest state (most DiT steps) gives the
    sampler, vocabulary, judge and extras."""
    from .export import export_like
    from .train import snap_to_int8

    weights = list(weights) if weights is not None else [1.0] * len(folders)
    states = [resume.load(f, data, "cpu", log=log) for f in folders]
    if any("dit" not in s for s in states):
        raise ValueError(f"every state needs its package: {[f for f, s in zip(folders, states) if 'dit' not in s]}")
    same_frozen_parts(states, folders)
    dit = average_modules([s["dit"] for s in states], weights).eval().requires_grad_(False)
    te = average_modules([s["te"] for s in states], weights).eval().requires_grad_(False)
    for m in (dit, te):
        snap_to_int8(m)  # the package holds int8 values; training resumes from exactly those
    newest = max(range(len(states)), key=lambda i: states[i].get("dit_steps", 0))
    sources = [{"state": str(f), "dit_steps": s.get("dit_steps", 0), "weight": w} for f, s, w in zip(folders, states, weights)]
    state = dict(states[newest], averaged_from=sources)  # resume.save keeps the networks out of extras.json
    report = export_like(Path(out) / "package", folders[newest], data, vae=states[newest]["vae"], te=te, dit=dit,
                         stats=state["latent_stats"], training_extra={"averaged_from": sources}, log=log)
    resume.save(out, state, data)
    log(f"averaged {len(folders)} states (weights {weights}) -> {out}")
    return report


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the averaged state's folder (package/, extras.json, classifier.npz)")
    ap.add_argument("states", nargs="+", help="state folders of one line (each with package/ and extras.json)")
    ap.add_argument("--weights", help="comma-separated, one per state (default: equal)")
    ap.add_argument("--data", default=".cache/data")
    a = ap.parse_args(argv)
    if len(a.states) < 2:
        ap.error("average at least two states")
    weights = [float(w) for w in a.weights.split(",")] if a.weights else None
    if weights is not None and len(weights) != len(a.states):
        ap.error(f"{len(weights)} weights for {len(a.states)} states")
    from .data import FlowfillData

    average_states(a.out, a.states, FlowfillData(a.data, "cpu"), weights)


if __name__ == "__main__":
    main()
