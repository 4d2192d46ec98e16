"""Export to the Optimum ONNX layout for SD3 (DESIGN.md §2.1) plus flowfill.json.

models/default/
  model_index.json, flowfill.json
  scheduler/scheduler_config.json
  transformer/{config.json, model.onnx}    attention fused to com.microsoft MultiHeadAttention
  vae_decoder/{config.json, model.onnx}    latent_sample (raw) -> sample
  vae_encoder/{config.json, model.onnx}    sample -> latent_sample (posterior mean, raw)
  text_encoder/{config.json, model.onnx}   input_ids -> text_embeds, last_hidden_state, hidden_states.0..N
  tokenizer/{tokenizer.json, tokenizer_config.json, special_tokens_map.json}
All weights fp32 (adapters without shader-f16 and WASM must run them).
"""
import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .data import bucket_size
from .text_encoder import TextEncoderExport
from .vae import VaeDecoderExport, VaeEncoderExport

OPSET = 17


class TransformerExport(nn.Module):
    def __init__(self, dit):
        super().__init__()
        self.dit = dit

    def forward(self, hidden_states, timestep, encoder_hidden_states, pooled_projections):
        return self.dit(hidden_states, timestep, encoder_hidden_states, pooled_projections)


def _onnx_export(module, args, path: Path, input_names, output_names, dynamic_axes, log):
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The TorchScript exporter decomposes scaled_dot_product_attention into the pattern that
        # onnxruntime.transformers' MM-DiT fusion recognises.
        torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names,
                          dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True, dynamo=False)
    log(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB)")


def _ort(path: Path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def export_package(out_dir: str | Path, *, data, vae, te, dit, stats, max_sequence_length, shift, guidance, steps,
                   tokenizer_dir, training_summary: dict, log=print) -> dict:
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    vae, te, dit = (m.to("cpu").float().eval() for m in (vae, te, dit))
    torch.manual_seed(0)
    cfg = dict(dit.config)
    te_cfg = dict(te.config)
    L = te_cfg["max_position_embeddings"]
    S = L + max_sequence_length
    parity = {}

    # --- transformer ---
    hs = torch.randn(2, cfg["in_channels"], 32, 32)
    args = (hs, torch.tensor([1000.0, 500.0]), torch.randn(2, S, cfg["joint_attention_dim"]), torch.randn(2, cfg["pooled_projection_dim"]))
    tpath = out / "transformer" / "model.onnx"
    _onnx_export(TransformerExport(dit), args, tpath, ["hidden_states", "timestep", "encoder_hidden_states", "pooled_projections"],
                 ["out_hidden_states"],
                 {"hidden_states": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"},
                  "encoder_hidden_states": {0: "batch", 1: "sequence"}, "pooled_projections": {0: "batch"},
                  "out_hidden_states": {0: "batch", 2: "height", 3: "width"}}, log)
    from onnxruntime.transformers.optimizer import optimize_model

    dim = cfg["num_attention_heads"] * cfg["attention_head_dim"]
    opt = optimize_model(str(tpath), model_type="mmdit", num_heads=cfg["num_attention_heads"], hidden_size=dim, opt_level=0)
    ops = {}
    for n in opt.model.graph.node:
        ops[f"{n.domain}:{n.op_type}" if n.domain else n.op_type] = ops.get(f"{n.domain}:{n.op_type}" if n.domain else n.op_type, 0) + 1
    opt.save_model_to_file(str(tpath))
    mha = ops.get("com.microsoft:MultiHeadAttention", 0)
    log(f"transformer fused: {mha} MultiHeadAttention nodes; ops {ops}")
    sess = _ort(tpath)
    diffs = {}
    for h, w, b in ((32, 32, 2), (*[s // 8 for s in bucket_size(2.0)], 1), (*[s // 8 for s in bucket_size(0.5)], 1)):
        feeds = {"hidden_states": torch.randn(b, cfg["in_channels"], h, w), "timestep": torch.rand(b) * 1000,
                 "encoder_hidden_states": torch.randn(b, S, cfg["joint_attention_dim"]), "pooled_projections": torch.randn(b, cfg["pooled_projection_dim"])}
        with torch.no_grad():
            ref = dit(*feeds.values()).numpy()
        got = sess.run(None, {k: v.numpy() for k, v in feeds.items()})[0]
        diffs[f"{b}x16x{h}x{w}"] = {"max_abs": _max_diff(got, ref), "ref_max_abs": float(np.abs(ref).max())}
    parity["transformer"] = {"fused_multihead_attention_nodes": mha, "cases": diffs}
    (out / "transformer" / "config.json").write_text(json.dumps(cfg, indent=2))

    # --- VAE ---
    vcfg = dict(vae.config, scaling_factor=stats["scaling_factor"], shift_factor=stats["shift_factor"])
    dpath = out / "vae_decoder" / "model.onnx"
    _onnx_export(VaeDecoderExport(vae), (torch.randn(1, 16, 32, 32),), dpath, ["latent_sample"], ["sample"],
                 {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}}, log)
    epath = out / "vae_encoder" / "model.onnx"
    _onnx_export(VaeEncoderExport(vae), (torch.randn(1, 3, 256, 256),), epath, ["sample"], ["latent_sample"],
                 {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_sample": {0: "batch", 2: "height", 3: "width"}}, log)
    z = torch.randn(1, 16, 22, 46) / stats["scaling_factor"] + stats["shift_factor"]
    with torch.no_grad():
        parity["vae_decoder"] = {"max_abs": _max_diff(_ort(dpath).run(None, {"latent_sample": z.numpy()})[0], VaeDecoderExport(vae)(z).numpy())}
        x = torch.rand(1, 3, 176, 368) * 2 - 1
        parity["vae_encoder"] = {"max_abs": _max_diff(_ort(epath).run(None, {"sample": x.numpy()})[0], VaeEncoderExport(vae)(x).numpy())}
    for sub in ("vae_decoder", "vae_encoder"):
        (out / sub / "config.json").write_text(json.dumps(vcfg, indent=2))

    # --- text encoder ---
    n_layers = te_cfg["num_hidden_layers"]
    ids = data.tokenize(["rocket, flat style, on a teal background", ""]).cpu()
    tepath = out / "text_encoder" / "model.onnx"
    names = ["text_embeds", "last_hidden_state"] + [f"hidden_states.{i}" for i in range(n_layers + 1)]
    _onnx_export(TextEncoderExport(te), (ids,), tepath, ["input_ids"], names,
                 {"input_ids": {0: "batch"}, **{n: {0: "batch"} for n in names}}, log)
    ids2 = data.tokenize(["a pizza in glossy style on a red to blue gradient background", "guitar", "unknown words here"]).cpu()
    with torch.no_grad():
        ref = TextEncoderExport(te)(ids2)
    got = _ort(tepath).run(None, {"input_ids": ids2.numpy()})
    parity["text_encoder"] = {"max_abs": max(_max_diff(g, r.numpy()) for g, r in zip(got, ref))}
    (out / "text_encoder" / "config.json").write_text(json.dumps(te_cfg, indent=2))

    # --- tokenizer, scheduler, index ---
    (out / "tokenizer").mkdir()
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(Path(tokenizer_dir) / f, out / "tokenizer" / f)
    (out / "tokenizer" / "special_tokens_map.json").write_text(json.dumps(
        {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"}, indent=2))
    (out / "scheduler").mkdir()
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps({
        "_class_name": "FlowMatchEulerDiscreteScheduler", "_diffusers_version": "0.31.0", "num_train_timesteps": 1000,
        "shift": shift, "use_dynamic_shifting": False, "base_shift": 0.5, "max_shift": 1.15, "base_image_seq_len": 256,
        "max_image_seq_len": 4096, "invert_sigmas": False, "shift_terminal": None, "use_karras_sigmas": False,
        "use_exponential_sigmas": False, "use_beta_sigmas": False, "time_shift_type": "exponential", "stochastic_sampling": False,
    }, indent=2))
    (out / "model_index.json").write_text(json.dumps({
        "_class_name": "StableDiffusion3Pipeline", "_diffusers_version": "0.31.0",
        "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
        "text_encoder": ["transformers", "CLIPTextModelWithProjection"], "tokenizer": ["transformers", "PreTrainedTokenizerFast"],
        "text_encoder_2": [None, None], "tokenizer_2": [None, None], "text_encoder_3": [None, None], "tokenizer_3": [None, None],
        "transformer": ["diffusers", "SD3Transformer2DModel"], "vae": ["diffusers", "AutoencoderKL"],
    }, indent=2))

    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            blob = p.read_bytes()
            files[p.relative_to(out).as_posix()] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    licences = data.manifest["licences"]
    flowfill = {
        "name": "Flowfill Emoji SD3-tiny",
        "version": training_summary.get("version", "0.1.0"),
        "licence": "Weights: CC-BY-4.0 (trained on Twemoji graphics, CC-BY 4.0, and MIT-licensed Fluent Emoji); code: MIT",
        "attribution": "Trained on Twemoji graphics (c) Twitter, Inc and other contributors, CC-BY 4.0; Microsoft Fluent Emoji (MIT); "
                       "labels from Emojibase (MIT). See model/README.md.",
        "data_licences": licences,
        "native_size": [256, 256],
        "max_sequence_length": max_sequence_length,
        "latent_rgb_factors": stats["latent_rgb_factors"],
        "latent_rgb_bias": stats["latent_rgb_bias"],
        "recommended": {"steps": steps, "guidance": guidance, "shift": shift},
        "vocabulary_note": "Prompts use the caption vocabulary (subjects, styles flat/glossy/twemoji, 16 colours); unknown words map to <unk>.",
        "training": training_summary,
        "files": files,
    }
    (out / "flowfill.json").write_text(json.dumps(flowfill, indent=2))
    total = sum(f["bytes"] for f in files.values())
    log(f"package {out}: {len(files)} files, {total / 1e6:.2f} MB; parity {parity}")
    return {"parity": parity, "bytes": total, "files": len(files), "transformer_ops": ops}
