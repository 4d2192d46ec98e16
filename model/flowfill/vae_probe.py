"""Is the VAE what breaks v2's subjects into fragments? Renders of held-out prompts, encoded, then
decoded from latents disturbed the ways a DiT errs: Gaussian noise of 0.1, 0.2 and 0.4 (in the DiT's
normalised latent space, where the latents have unit scale) and a 2x low-pass (average of 2x2
latents). Rows, top to bottom: the renders, noise 0.1 / 0.2 / 0.4, low-pass. Whole subjects in every
row mean the decoder turns imperfect latents into noisy or soft images, not fragments (model/README.md):

  cd model && python3 -m flowfill.vae_probe <resume state folder> <out.png>   # CPU, ~1 min

Is it what loses a style's subjects (thin icons, "Session 34")? With `--judge-set icons`, the set's real renders
and their VAE reconstructions are both judged, by style: top-1 among the trained subjects, the PSNR, and how soft
each side's edges are (the blur effect, flowfill.crispness): whether the decoder softens the edges a drawing shows, or
the latents the DiT draws do (session 47):

  cd model && python3 -m flowfill.vae_probe <resume state folder> --judge-set icons   # CPU, ~3 min
"""
import sys

import numpy as np
import torch
from PIL import Image

from . import resume
from .confusions import drawn_subjects
from .data import FlowfillData
from .evaluate import REAL_RENDER_SEED, blur_results, real_renders
from .vocabulary import subject_ids_of

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


@torch.no_grad()
def round_trip_images(vae, data: FlowfillData, prompts: list[dict], size: int = 256, batch: int = 20):
    """The prompts' real renders, their VAE reconstructions (the posterior mean decoded, clamped), and each one's PSNR
    (dB, on [0, 1])."""
    renders = real_renders(data, prompts, size, size, seed=REAL_RENDER_SEED)
    decoded = torch.cat([vae.decode(vae.encode_moments(renders[i: i + batch])[0]) for i in range(0, len(renders), batch)])
    decoded = decoded.clamp(-1, 1)
    mse = (((decoded - renders) / 2) ** 2).flatten(1).mean(1)
    return renders, decoded, (10 * torch.log10(1 / mse.clamp_min(1e-10))).tolist()


@torch.no_grad()
def reconstructions_judged(data: FlowfillData, state: dict, set_name: str, size: int = 256, batch: int = 20,
                           train_subjects: str = "core") -> dict:
    """Per style of the set: images, the judge's top-1 among the trained subjects on the real renders and on their
    VAE reconstructions, the reconstructions' PSNR (dB, on [0, 1]), and the mean blur effect of each side."""
    prompts = data.eval_sets[set_name]
    vae, clf = state["vae"].eval(), state["classifier"].eval()
    renders, decoded, psnr = round_trip_images(vae, data, prompts, size, batch)
    vocabulary = subject_ids_of(data.manifest, train_subjects)
    real, rebuilt = drawn_subjects(clf, renders, vocabulary), drawn_subjects(clf, decoded, vocabulary)
    blur_real, blur_rebuilt = blur_results(renders)["blur_effect"], blur_results(decoded)["blur_effect"]
    out: dict[str, dict] = {}
    for k, p in enumerate(prompts):
        row = out.setdefault(data.styles[p["style"]], {"n": 0, "real": 0, "reconstructed": 0, "psnr": 0.0,
                                                       "blur_real": 0.0, "blur_reconstructed": 0.0})
        row["n"] += 1
        row["real"] += int(real[k] == p["subject"])
        row["reconstructed"] += int(rebuilt[k] == p["subject"])
        row["psnr"] += psnr[k]
        row["blur_real"] += blur_real[k]
        row["blur_reconstructed"] += blur_rebuilt[k]
    for row in out.values():
        for key in ("psnr", "blur_real", "blur_reconstructed"):
            row[key] /= row["n"]
    return out


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    judging = len(args) == 3 and args[1] == "--judge-set"
    if len(args) != 2 and not judging:
        raise SystemExit("usage: python3 -m flowfill.vae_probe <resume state folder> <out.png> | --judge-set <set>")
    data = FlowfillData(".cache/data", "cpu")
    state = resume.load(args[0], data, "cpu", log=lambda *a: None)
    if judging:
        for style, row in reconstructions_judged(data, state, args[2]).items():
            print(f"{style:8s} n {row['n']:4d}: renders recognised {row['real']}, their reconstructions {row['reconstructed']}; "
                  f"PSNR {row['psnr']:.1f} dB; blur effect {row['blur_real']:.3f} -> {row['blur_reconstructed']:.3f}")
        return
    prompts = data.eval_sets["v1_emoji"][:4] + data.eval_sets["icons"][:4]
    rows = probe_rows(data, state["vae"].eval(), state["latent_stats"], prompts)
    grid = torch.cat([torch.cat(list(r), dim=2) for r in rows], dim=1)
    image = Image.fromarray(((grid.permute(1, 2, 0).cpu().numpy() + 1) * 127.5).round().astype(np.uint8))
    image.resize((image.width // 2, image.height // 2), Image.LANCZOS).save(args[1], optimize=True)
    print(f"wrote {args[1]}: rows = renders, noise {', '.join(map(str, NOISE))}, 2x low-pass")


if __name__ == "__main__":
    main()
