"""A tiny package in the v2 format (int8 weights through Cast -> Mul, fused attention, 64-patch
positional table, the norm-free VAE, the v2 tokenizer) with PyTorch reference outputs, for the
engine tests in test/model/ (WASM in Node, WebGPU in Chromium). Random weights: it checks the
format and the arithmetic, not image quality.

  python3 -m flowfill.engine_fixture .cache/data ../test/model/fixtures/int8-tiny    # ~1 MB
  python3 -m flowfill.engine_fixture --full .cache/data /tmp/v2-random              # the real sizes, for
      # timing the architecture with `npm run bench -- --model /tmp/v2-random/package` before it is trained

reference.json holds, for fixed inputs, what PyTorch computes with the very weights the package
stores (the int8 values, dequantised): the text encoder outputs, one transformer call at 4:1
(a 512x128 px latent) and one at 1:1 (batch 2), and one VAE decode. Tensors are little-endian float32 .bin files.
"""
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from .data import FlowfillData
from .export import export_package
from .run import SMOKE
from .text_encoder import TextEncoderExport
from .train import MAX_SEQUENCE_LENGTH, build_models, snap_to_int8
from .vae import AutoencoderKL


def make(data_dir: str, out_dir: str, full: bool = False) -> dict:
    torch.manual_seed(1234)
    data = FlowfillData(data_dir, "cpu")
    te, dit = build_models(len(data.tokenizer), "cpu", None if full else SMOKE["dit"], None if full else SMOKE["text"])
    vae = AutoencoderKL(None if full else SMOKE["vae"])
    with torch.no_grad():
        for m in (te, dit, vae):
            for p in m.parameters():
                p.add_(torch.randn_like(p) * 0.05)
    for m in (te, dit, vae):
        m.eval().requires_grad_(False)
        snap_to_int8(m)
    stats = {"shift_factor": 0.05, "scaling_factor": 1.2, "latent_rgb_factors": np.random.default_rng(0).normal(0, 0.2, (16, 3)).round(4).tolist(),
             "latent_rgb_bias": [0.0, 0.0, 0.0]}
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    result = export_package(out / "package", tokenizer=data.tokenizer.encode, vae=vae, te=te, dit=dit, stats=stats,
                            max_sequence_length=MAX_SEQUENCE_LENGTH, shift=3.0, guidance=4.0, steps=4, tokenizer_dir=data_dir,
                            training_summary={"note": "random weights: format test fixture, not a model"}, licences=data.manifest["licences"],
                            log=lambda *_: None)
    if full:
        return {"bytes": result["bytes"], "quantisation": result["quantisation"]}
    # The tokenizer alone is ~80 kB of the fixture: fine.
    ref_dir = out / "reference"
    ref_dir.mkdir()
    arrays = {}
    rng = np.random.default_rng(7)
    prompts = ["shopping cart icon, line style, dark blue on white", "rocket, flat style, on a teal background"]
    ids = torch.tensor([data.tokenizer.encode(p) for p in prompts])
    with torch.no_grad():
        te_out = TextEncoderExport(te)(ids)
    arrays["text_encoder.input_ids"] = ids.numpy().astype(np.int64)
    n_layers = te.config["num_hidden_layers"]
    for name, t in zip(["text_embeds", "last_hidden_state"] + [f"hidden_states.{i}" for i in range(n_layers + 1)], te_out):
        arrays[f"text_encoder.{name}"] = t.numpy()
    S = te.config["max_position_embeddings"] + MAX_SEQUENCE_LENGTH
    cfg = dit.config
    for label, (h, w, b) in {"wide": (16, 64, 1), "square": (16, 16, 2)}.items():
        feeds = {"hidden_states": rng.standard_normal((b, 16, h, w)), "timestep": np.array([750.0, 250.0][:b]),
                 "encoder_hidden_states": rng.standard_normal((b, S, cfg["joint_attention_dim"])),
                 "pooled_projections": rng.standard_normal((b, cfg["pooled_projection_dim"]))}
        feeds = {k: v.astype(np.float32) for k, v in feeds.items()}
        with torch.no_grad():
            o = dit(*[torch.from_numpy(v) for v in feeds.values()]).numpy()
        for k, v in feeds.items():
            arrays[f"transformer.{label}.{k}"] = v
        arrays[f"transformer.{label}.out_hidden_states"] = o
    z = rng.standard_normal((1, 16, 8, 16)).astype(np.float32)
    with torch.no_grad():
        arrays["vae_decoder.sample"] = vae.decode(torch.from_numpy(z)).numpy()
    arrays["vae_decoder.latent_sample"] = z
    index = {}
    for k, v in arrays.items():
        v = np.ascontiguousarray(v)
        (ref_dir / f"{k}.bin").write_bytes(v.astype("<i8" if v.dtype == np.int64 else "<f4").tobytes())
        index[k] = {"dtype": "int64" if v.dtype == np.int64 else "float32", "shape": list(v.shape)}
    (ref_dir / "reference.json").write_text(json.dumps({"what": __doc__.split("\n\n")[0], "prompts": prompts, "tensors": index}, indent=1))
    return {"bytes": sum(p.stat().st_size for p in out.rglob("*") if p.is_file()), "quantisation": result["quantisation"]}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--full"]
    if len(args) != 2:
        raise SystemExit("usage: python3 -m flowfill.engine_fixture [--full] DATA_DIR OUT_DIR")
    print(make(args[0], args[1], full="--full" in sys.argv))
