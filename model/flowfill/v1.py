"""The v1 default model (models/default/ until v2 shipped on 2026-12-03, models/v1/ since), read back from its
ONNX package, so that v1 and v2 are measured by the same evaluation code on the same unseen prompts.

v1's training checkpoint is lost; its package holds fp32 ONNX graphs whose initializers follow
diffusers' names (onnx_weights.py puts them back). The GPU machine receives the package without its
ONNX files (the travelling tree is limited), so `pack` stores the weights as float16 (14.5 MB, rounding
error ~5e-4 relative; stated next to every v1 number) with the configs and the tokenizer in one .npz:

  python3 -m flowfill.v1 pack ../models/v1 .cache/v1/v1-fp16.npz   # here (onnx + CPU PyTorch)

`reexport-transformer` rewrites v1's transformer graph from its own fp32 weights with attention as
MatMul -> Softmax -> MatMul instead of com.microsoft MultiHeadAttention, whose onnxruntime-web 1.30
WebGPU kernel returned wrong numbers in Chromium (flowfill/onnx_ops.py); everything else in the
package stays byte-identical and flowfill.json's hashes are updated:

  python3 -m flowfill.v1 reexport-transformer ../models/v1

`vae-figure` shows why v1's images carry a small glyph in the bottom-left corner (model/README.md,
"Diagnosis"): v1's own VAE, asked to encode and decode plain one-colour images, draws it there, and
its encoder's latents deviate most at that corner:

  python3 -m flowfill.v1 vae-figure .cache/v1/v1-fp16.npz eval/diagnosis/v1-vae-plain-backgrounds.png
"""
import json
import sys
from pathlib import Path

import numpy as np

COMPONENTS = ("transformer", "text_encoder", "vae_decoder", "vae_encoder")


def _expected_shapes(component: str, configs: dict) -> dict:
    """State-dict shapes of v1's modules, built on the CPU (needs PyTorch)."""
    from .mmdit import SD3Transformer2DModel
    from .text_encoder import CLIPTextModelWithProjection
    from .vae_v1 import AutoencoderKL

    if component == "transformer":
        return {k: tuple(v.shape) for k, v in SD3Transformer2DModel(configs["transformer"]).state_dict().items()}
    if component == "text_encoder":
        return {k: tuple(v.shape) for k, v in CLIPTextModelWithProjection(configs["text_encoder"]).state_dict().items()}
    vae = AutoencoderKL(configs["vae_decoder"]).state_dict()
    prefix = "decoder." if component == "vae_decoder" else "encoder."
    return {k: tuple(v.shape) for k, v in vae.items() if k.startswith(prefix)}


def pack(package_dir: str | Path, out_path: str | Path) -> dict:
    from .onnx_weights import read_state_dict

    pkg = Path(package_dir)
    configs = {c: json.loads((pkg / c / "config.json").read_text()) for c in COMPONENTS}
    arrays = {}
    for c in COMPONENTS:
        sd = read_state_dict(pkg / c / "model.onnx", _expected_shapes(c, configs))
        for k, v in sd.items():
            arrays[f"{c}/{k}"] = v.astype(np.float16) if v.dtype == np.float32 else v
    meta = {"configs": configs, "tokenizer": json.loads((pkg / "tokenizer" / "tokenizer.json").read_text()),
            "tokenizer_config": json.loads((pkg / "tokenizer" / "tokenizer_config.json").read_text()),
            "flowfill": {k: v for k, v in json.loads((pkg / "flowfill.json").read_text()).items() if k != "files"}}
    arrays["__meta__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, **arrays)
    return {"path": str(out_path), "bytes": out_path.stat().st_size, "tensors": len(arrays) - 1}


def load_pipeline(npz_path: str | Path, device):
    """A sampling.Pipeline for v1 (fp32 modules from the fp16 weights) plus its encoder/decoder."""
    import torch

    from .mmdit import SD3Transformer2DModel
    from .sampling import Pipeline
    from .text_encoder import CLIPTextModelWithProjection
    from .tokenizer import CaptionTokenizer
    from .vae_v1 import AutoencoderKL

    z = np.load(npz_path)
    meta = json.loads(bytes(z["__meta__"]).decode())
    cfg = meta["configs"]

    def sd(component, prefix=""):
        return {prefix + k.split("/", 1)[1]: torch.from_numpy(z[k].astype(np.float32)) for k in z.files if k.startswith(component + "/")}

    dit = SD3Transformer2DModel(cfg["transformer"])
    full = dit.state_dict()
    full.update(sd("transformer"))
    dit.load_state_dict(full, strict=True)
    te = CLIPTextModelWithProjection(cfg["text_encoder"])
    te.load_state_dict(sd("text_encoder"), strict=True)
    vae = AutoencoderKL(cfg["vae_decoder"])
    vae.load_state_dict({**sd("vae_decoder"), **sd("vae_encoder")}, strict=True)
    for m in (dit, te, vae):
        m.to(device).eval().requires_grad_(False)
    tok = CaptionTokenizer(meta["tokenizer"], meta["tokenizer_config"]["model_max_length"])

    def tokenize(texts):
        return torch.tensor([tok.encode(t) for t in texts], dtype=torch.long, device=device)

    vc = cfg["vae_decoder"]
    pipe = Pipeline(tokenize=tokenize, text_encoder=te, dit=dit, vae_decode=vae.decode, scaling_factor=vc["scaling_factor"],
                    shift_factor=vc["shift_factor"], max_sequence_length=meta["flowfill"]["max_sequence_length"])
    rec = meta["flowfill"]["recommended"]
    return pipe, vae, rec


def reexport_transformer(package_dir: str | Path) -> dict:
    import hashlib

    import onnx
    import torch

    from .export import TransformerExport, _onnx_export
    from .mmdit import SD3Transformer2DModel
    from .onnx_weights import read_state_dict

    pkg = Path(package_dir)
    cfg = json.loads((pkg / "transformer" / "config.json").read_text())
    dit = SD3Transformer2DModel(cfg)
    full = dit.state_dict()
    full.update({k: torch.from_numpy(v) for k, v in read_state_dict(pkg / "transformer" / "model.onnx", full).items()})
    dit.load_state_dict(full, strict=True)
    dit.eval().requires_grad_(False)
    meta = json.loads((pkg / "flowfill.json").read_text())
    S = json.loads((pkg / "tokenizer" / "tokenizer_config.json").read_text())["model_max_length"] + meta["max_sequence_length"]
    path = pkg / "transformer" / "model.onnx"
    old = onnx.load(str(path))
    args = (torch.randn(2, cfg["in_channels"], 32, 32), torch.tensor([1000.0, 500.0]), torch.randn(2, S, cfg["joint_attention_dim"]),
            torch.randn(2, cfg["pooled_projection_dim"]))
    _onnx_export(TransformerExport(dit), args, path, ["hidden_states", "timestep", "encoder_hidden_states", "pooled_projections"],
                 ["out_hidden_states"], {"hidden_states": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"},
                                         "encoder_hidden_states": {0: "batch", 1: "sequence"}, "pooled_projections": {0: "batch"},
                                         "out_hidden_states": {0: "batch", 2: "height", 3: "width"}}, print, False, False, custom_ops=True)
    blob = path.read_bytes()
    meta["files"]["transformer/model.onnx"] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    meta.setdefault("changes", []).append("transformer/model.onnx re-exported from the same fp32 weights with attention as "
                                          "MatMul/Softmax/MatMul (MultiHeadAttention was wrong on onnxruntime-web 1.30's WebGPU EP)")
    (pkg / "flowfill.json").write_text(json.dumps(meta, indent=2))
    ops = sorted({n.op_type for n in old.graph.node} ^ {n.op_type for n in onnx.load(str(path)).graph.node})
    return {"bytes": len(blob), "op_types_changed": ops}


def vae_figure(npz_path: str | Path, out_png: str | Path) -> dict:
    import torch
    from PIL import Image

    _, vae, _ = load_pipeline(npz_path, "cpu")
    rgb = torch.tensor([[220, 40, 40], [20, 140, 140], [245, 245, 245], [128, 128, 128]], dtype=torch.float32) / 255
    x = rgb[:, :, None, None].expand(4, 3, 256, 256) * 2 - 1
    with torch.no_grad():
        mean = vae.encode_moments(x)[0]
        rec = vae.decode(mean).clamp(-1, 1)
    dev = (mean - mean[:, :, 16:17, 16:17]).abs().amax(1)  # [4, 32, 32]: distance from the centre latent
    img = ((rec + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    # Top: the four reconstructions; bottom: their bottom-left 64x64 corners, 4x enlarged.
    top = np.concatenate([np.pad(i, ((4, 4), (4, 4), (0, 0)), constant_values=255) for i in img], 1)
    corners = [np.kron(i[-64:, :64], np.ones((4, 4, 1), np.uint8)) for i in img]
    bottom = np.concatenate([np.pad(c, ((4, 4), (4, 4), (0, 0)), constant_values=255) for c in corners], 1)
    Path(out_png).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([top, bottom], 0)).save(out_png, optimize=True)
    flat = dev.reshape(4, -1)
    corner = dev[:, -2:, :2].amax(dim=(1, 2))
    return {"max_latent_deviation_bottom_left": corner.tolist(), "median_latent_deviation": flat.median(1).values.tolist(),
            "figure": str(out_png)}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "vae-figure":
        print(vae_figure(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) == 4 and sys.argv[1] == "pack":
        print(pack(sys.argv[2], sys.argv[3]))
    elif len(sys.argv) == 3 and sys.argv[1] == "reexport-transformer":
        print(reexport_transformer(sys.argv[2]))
    else:
        raise SystemExit("usage: python3 -m flowfill.v1 pack PACKAGE_DIR OUT.npz | reexport-transformer PACKAGE_DIR | vae-figure V1.npz OUT.png")
