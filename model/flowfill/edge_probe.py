"""What share of a training step's loss `--edge-loss W` would be, measured on a state before a GPU call spends time on
it: the MSE on the velocity and train.edge_loss over one batch of fresh composites, at the timesteps the training
draws (its noise shift, and the low-noise share if given), without gradients.

  cd model && python3 -m flowfill.edge_probe eval/v2-deep16 [--size 256] [--n 32] [--noise-shift 6] [--low-noise-share S]
        [--seed 0]

CPU, 2 cores: about a minute at 32 images of 256².
"""
import argparse

import torch
import torch.nn.functional as F

from . import resume
from .bank import LatentBank
from .data import FlowfillData
from .train import Bf16Forward, edge_loss, training_timesteps


def probe(state: dict, data: FlowfillData, size: int, n: int, noise_shift: float, seed: int, low_noise_share: float = 0.0) -> dict:
    vae, te, dit = state["vae"], state["te"], state["dit"]
    # The bank's own composing and encoding, for one batch of its square bucket (no bank filled).
    bank = LatentBank(data, lambda x: vae.encode_moments(x)[0], natives=(size,), capacity=(n,), seed=seed)
    square = next(k for k, b in enumerate(bank.buckets) if b[1] == b[2])
    _, h, w, _ = bank.buckets[square]
    z, tokens = bank._make(square, n)
    ids = tokens[:, 0].long()
    stats = state["latent_stats"]
    gen = torch.Generator(device=data.device).manual_seed(seed)
    x0 = (z.float() - stats["shift_factor"]) * stats["scaling_factor"]
    noise = torch.randn(x0.shape, generator=gen, device=data.device)
    t = training_timesteps(n, h, w, gen, data.device, noise_shift, low_noise_share)
    xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * noise
    with torch.no_grad():
        v, _ = Bf16Forward(dit, te)(xt, t * 1000, ids)
    target = noise - x0
    mse, edge = F.mse_loss(v.float(), target).item(), edge_loss(v, target, t).item()
    return {"size": size, "n": n, "noise_shift": noise_shift, "low_noise_share": low_noise_share, "mse": mse, "edge_term": edge,
            "edge_share_at": {w: w * edge / (mse + w * edge) for w in (0.25, 0.5, 1.0, 2.0, 4.0)}}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("state", help="a resume folder (package/ + extras.json)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--n", type=int, default=32)
    ap.add_argument("--noise-shift", type=float, default=6.0)
    ap.add_argument("--low-noise-share", type=float, default=0.0, help="as run.py's, at this size")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--data", default=".cache/data")
    a = ap.parse_args(argv)
    data = FlowfillData(a.data, "cpu")
    result = probe(resume.load(a.state, data, "cpu", log=lambda *_: None), data, a.size, a.n, a.noise_shift, a.seed,
                   a.low_noise_share)
    print(f"{a.state} at {a.size}², {a.n} images, noise shift {a.noise_shift:g}"
          f"{f', low-noise share {a.low_noise_share:g}' if a.low_noise_share else ''}: MSE {result['mse']:.4f}, "
          f"edge term {result['edge_term']:.4f}")
    print("  the edge term's share of the loss at --edge-loss " +
          ", ".join(f"{w:g}: {share:.0%}" for w, share in result["edge_share_at"].items()))
    return result


if __name__ == "__main__":
    main()
