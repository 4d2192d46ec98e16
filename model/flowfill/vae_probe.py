"""Is the VAE what breaks v2's subjects into fragments? Renders of held-out prompts, encoded, then
decoded from latents disturbed the ways a DiT errs: Gaussian noise of 0.1, 0.2 and 0.4 (in the DiT's
normalised latent space, where the latents have unit scale) and a 2x low-pass (average of 2x2
latents). Rows, top to bottom: the renders, noise 0.1 / 0.2 / 0.4, low-pass. Whole subjects in every
row mean the decoder turns imperfect latents into noisy or soft images, not fragments (model/README.md):

  cd model && python3 -m flowfill.vae_probe <resume state folder> <out.png>   # CPU, ~1 min
"""
import sys

import numpy as np
import torch
from PIL import Image

from . import resume
from .data import FlowfillData

NOISE = (0.1, 0.2, 0.4)


@torch.no_grad()
def probe_rows(data: FlowfillData, vae, latent_stats: dict, prompts: list[dict], size: int = 256) -> list[torch.Tensor]:
    shift, scale = latent_stats["shift_factor"], latent_stats["scaling_factor"]
    gen = torch.Generator(device=data.device).manual_seed(3)
    x = data.compose(data.conditions_for(prompts), size, size, gen)
    zn = (vae.encode_moments(x)[0] - shift) * scale
    noise = torch.randn(zn.shape, generator=gen, device=zn.device)
    rows = [x] + [vae.decode((zn + s * noise) / scale + shift) for s in NOISE]
    low = torch.nn.functional.interpolate(torch.nn.functional.avg_pool2d(zn, 2), scale_factor=2, mode="nearest")
    rows.append(vae.decode(low / scale + shift))
    return [r.clamp(-1, 1) for r in rows]


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        raise SystemExit("usage: python3 -m flowfill.vae_probe <resume state folder> <out.png>")
    data = FlowfillData(".cache/data", "cpu")
    state = resume.load(args[0], data, "cpu", log=lambda *a: None)
    prompts = data.eval_sets["v1_emoji"][:4] + data.eval_sets["icons"][:4]
    rows = probe_rows(data, state["vae"].eval(), state["latent_stats"], prompts)
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    image = Image.fromarray(((grid.permute(1, 2, 0).cpu().numpy() + 1) * 127.5).round().astype(np.uint8))
    image.resize((image.width // 2, image.height // 2), Image.LANCZOS).save(args[1], optimize=True)
    print(f"wrote {args[1]}: rows = renders, noise {', '.join(map(str, NOISE))}, 2x low-pass")


if __name__ == "__main__":
    main()
