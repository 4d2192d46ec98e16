"""Export to the Optimum ONNX layout for SD3 plus flowfill.json, with int8 weights.

models/default/
  model_index.json, flowfill.json
  scheduler/scheduler_config.json
  transformer/{config.json, model.onnx}    SimplifiedLayerNormalization / FastGelu fused; attention as MatMul -> Softmax -> MatMul (onnx_ops.py says why)
  vae_decoder/{config.json, model.onnx}    latent_sample (raw) -> sample
  vae_encoder/{config.json, model.onnx}    sample -> latent_sample (posterior mean, raw)
  text_encoder/{config.json, model.onnx}   input_ids -> text_embeds, last_hidden_state, hidden_states.0..N
  tokenizer/{tokenizer.json, tokenizer_config.json, special_tokens_map.json}

Weights: the large matrices, embedding tables and convolution kernels as int8 with one float32
scale per output channel, dequantised in the graph by Cast -> Mul (quantize.py), which onnxruntime
folds into float32 weights when it creates the session; every other tensor float32. So the graphs
compute in float32 on WASM and on WebGPU without shader-f16. Parity is measured three ways (ONNX
Runtime CPU, when installed): float graph vs PyTorch, int8 graph vs float graph per network, and
20-step images of the int8 package vs the float package.
"""
import hashlib
import inspect
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .data import bucket_size
from .onnx_ops import CUSTOM_OPSETS, restore_default_domain
from .quantize import quantize_model
from .sampling import flow_match_sigmas
from .text_encoder import TextEncoderExport
from .train import CONV_MIN, LINEAR_MIN, MAX_SEQUENCE_LENGTH
from .vae import VaeDecoderExport, VaeEncoderExport

OPSET = 17
PACKAGE_NAME = "Flowfill Emoji & Icons SD3-tiny v2"


class TransformerExport(nn.Module):
    def __init__(self, dit):
        super().__init__()
        self.dit = dit

    def forward(self, hidden_states, timestep, encoder_hidden_states, pooled_projections):
        return self.dit(hidden_states, timestep, encoder_hidden_states, pooled_projections)


# The fused nodes of onnx_ops.py are symbolic() registrations, which only the TorchScript exporter reads; from
# PyTorch 2.9 torch.onnx.export goes through torch.export by default, which ignores them and emits the RMS norms and
# GELU decomposed (call 30's package from the H100: no SimplifiedLayerNormalization in 2,809 nodes). Asking for the
# TorchScript exporter by name keeps one graph on every PyTorch the GPU machine and this one have had (1.13 to 2.13).
_TORCHSCRIPT_EXPORTER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def _onnx_export(module, args, path: Path, input_names, output_names, dynamic_axes, log, quantize: bool, include_conv: bool, custom_ops: bool = False):
    """Exports the float graph to `path` and, with `quantize`, rewrites it in place with int8 weights;
    returns (float ModelProto, quantisation report)."""
    import onnx

    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, str(path), input_names=input_names, output_names=output_names, dynamic_axes=dynamic_axes,
                          opset_version=OPSET, do_constant_folding=True, custom_opsets=CUSTOM_OPSETS if custom_ops else None,
                          **_TORCHSCRIPT_EXPORTER)
    model = onnx.load(str(path))
    restore_default_domain(model)
    float_model = onnx.ModelProto()
    float_model.CopyFrom(model)
    report = quantize_model(model, min_elements=LINEAR_MIN, include_conv=include_conv, conv_min_elements=CONV_MIN) if quantize else {}
    onnx.save(model, str(path))
    # PyTorch ≥ 2.9 exports through dynamo and writes the float weights to `<name>.data` beside the
    # graph; they were loaded above and are now inline (int8 where quantised), so the file is stale
    # (the first GPU slice shipped a 73.7 MB package because of it).
    stale = path.parent / (path.name + ".data")
    if stale.exists():
        stale.unlink()
    log(f"exported {path} ({path.stat().st_size / 1e6:.2f} MB, {len(report)} int8 weights)")
    return float_model, report


def _ort_session(model_or_path):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    src = model_or_path.SerializeToString() if hasattr(model_or_path, "SerializeToString") else str(model_or_path)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def _max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def _rel_l2(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def _ort_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
        return True
    except ImportError:
        return False


def export_like(out_dir: str | Path, source: str | Path, data, *, vae, te, dit, stats, training_extra: dict,
                log=print) -> dict:
    """export_package for networks derived from the state in `source` (averaged, or a part trained on): its package's
    recommended sampler, vocabulary and training summary carry over, the summary with `training_extra` added."""
    info = json.loads((Path(source) / "package" / "flowfill.json").read_text())
    rec = info["recommended"]
    return export_package(out_dir, tokenizer=data.tokenizer.encode, vae=vae, te=te, dit=dit, stats=stats,
                          max_sequence_length=MAX_SEQUENCE_LENGTH, shift=rec["shift"], guidance=rec["guidance"],
                          steps=rec["steps"], tokenizer_dir=data.dir,
                          training_summary=dict(info.get("training", {}), **training_extra),
                          licences=data.manifest["licences"], log=log, vocabulary=info.get("vocabulary"))


def export_package(out_dir: str | Path, *, tokenizer, vae, te, dit, stats, max_sequence_length, shift, guidance, steps,
                   tokenizer_dir, training_summary: dict, licences: list, log=print, quantize: bool = True,
                   parity_prompts: list[str] = (), vocabulary: dict | None = None) -> dict:
    """Writes the package; returns {parity, quantisation, bytes, files}. `tokenizer` encodes strings to ids;
    `vocabulary` is flowfill.json's prompt vocabulary (vocabulary.prompt_vocabulary), when known."""
    out = Path(out_dir)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    vae, te, dit = (m.to("cpu").float().eval() for m in (vae, te, dit))
    torch.manual_seed(0)
    cfg, te_cfg = dict(dit.config), dict(te.config)
    S = te_cfg["max_position_embeddings"] + max_sequence_length
    floats, quant = {}, {}
    parity = {"ort": _ort_available()}

    # --- transformer ---
    args = (torch.randn(2, cfg["in_channels"], 32, 32), torch.tensor([1000.0, 500.0]), torch.randn(2, S, cfg["joint_attention_dim"]),
            torch.randn(2, cfg["pooled_projection_dim"]))
    tpath = out / "transformer" / "model.onnx"
    floats["transformer"], quant["transformer"] = _onnx_export(
        TransformerExport(dit), args, tpath, ["hidden_states", "timestep", "encoder_hidden_states", "pooled_projections"], ["out_hidden_states"],
        {"hidden_states": {0: "batch", 2: "height", 3: "width"}, "timestep": {0: "batch"}, "encoder_hidden_states": {0: "batch", 1: "sequence"},
         "pooled_projections": {0: "batch"}, "out_hidden_states": {0: "batch", 2: "height", 3: "width"}}, log, quantize, False, custom_ops=True)
    (out / "transformer" / "config.json").write_text(json.dumps(cfg, indent=2))

    # --- VAE ---
    vcfg = dict(vae.config, scaling_factor=stats["scaling_factor"], shift_factor=stats["shift_factor"])
    dpath, epath = out / "vae_decoder" / "model.onnx", out / "vae_encoder" / "model.onnx"
    floats["vae_decoder"], quant["vae_decoder"] = _onnx_export(
        VaeDecoderExport(vae), (torch.randn(1, 16, 32, 32),), dpath, ["latent_sample"], ["sample"],
        {"latent_sample": {0: "batch", 2: "height", 3: "width"}, "sample": {0: "batch", 2: "height", 3: "width"}}, log, quantize, True)
    floats["vae_encoder"], quant["vae_encoder"] = _onnx_export(
        VaeEncoderExport(vae), (torch.randn(1, 3, 256, 256),), epath, ["sample"], ["latent_sample"],
        {"sample": {0: "batch", 2: "height", 3: "width"}, "latent_sample": {0: "batch", 2: "height", 3: "width"}}, log, quantize, True)
    for sub in ("vae_decoder", "vae_encoder"):
        (out / sub / "config.json").write_text(json.dumps(vcfg, indent=2))

    # --- text encoder ---
    n_layers = te_cfg["num_hidden_layers"]
    ids = torch.tensor([tokenizer("rocket, flat style, on a teal background"), tokenizer("")])
    tepath = out / "text_encoder" / "model.onnx"
    names = ["text_embeds", "last_hidden_state"] + [f"hidden_states.{i}" for i in range(n_layers + 1)]
    floats["text_encoder"], quant["text_encoder"] = _onnx_export(
        TextEncoderExport(te), (ids,), tepath, ["input_ids"], names, {"input_ids": {0: "batch"}, **{n: {0: "batch"} for n in names}},
        log, quantize, False)
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

    # --- parity ---
    if parity["ort"]:
        parity.update(_parity(out, floats, dit, te, vae, cfg, S, stats, max_sequence_length, tokenizer, shift, guidance, steps, list(parity_prompts)))
        log(f"parity: {json.dumps(parity)}")
    else:
        log("parity: skipped (onnxruntime is not installed here; the GPU machine has it)")

    files = {}
    for p in sorted(out.rglob("*")):
        if p.is_file():
            blob = p.read_bytes()
            files[p.relative_to(out).as_posix()] = {"sha256": hashlib.sha256(blob).hexdigest(), "bytes": len(blob)}
    qsummary = {net: {"int8_tensors": len(r), "int8_elements": sum(v["elements"] for v in r.values()),
                      "max_rel_rms_error": max((v["rel_rms_error"] for v in r.values()), default=0.0)} for net, r in quant.items()}
    flowfill = {
        "name": PACKAGE_NAME,
        "version": training_summary.get("version", "2.0.0"),
        "licence": "Weights: CC-BY-4.0 (trained on Twemoji graphics, CC-BY 4.0, with MIT/ISC-licensed emoji and icon sets); code: MIT",
        "attribution": "Trained on Twemoji graphics (c) Twitter, Inc and other contributors, CC-BY 4.0; Microsoft Fluent Emoji (MIT); "
                       "Lucide icons (ISC; Feather parts MIT); Tabler Icons (MIT); Phosphor Icons (MIT); labels from Emojibase (MIT). "
                       "See model/README.md.",
        "data_licences": licences,
        "native_size": [cfg["sample_size"] * 8, cfg["sample_size"] * 8],
        "max_sequence_length": max_sequence_length,
        "latent_rgb_factors": stats["latent_rgb_factors"],
        "latent_rgb_bias": stats["latent_rgb_bias"],
        "recommended": {"steps": steps, "guidance": guidance, "shift": shift},
        "weights": {"format": "int8 per output channel (Cast -> Mul in the graph) for large matrices, embedding tables and convolution kernels; float32 otherwise",
                    "quantisation": qsummary} if quantize else {"format": "float32"},
        **({"vocabulary": vocabulary} if vocabulary is not None else {}),
        "training": training_summary,
        "files": files,
    }
    (out / "flowfill.json").write_text(json.dumps(flowfill, indent=2))
    total = sum(f["bytes"] for f in files.values())
    log(f"package {out}: {len(files)} files, {total / 1e6:.2f} MB")
    return {"parity": parity, "quantisation": qsummary, "bytes": total, "files": len(files)}


def _parity(out, floats, dit, te, vae, cfg, S, stats, max_seq, tokenizer, shift, guidance, steps, prompts):
    res = {}
    t_float, t_int8 = _ort_session(floats["transformer"]), _ort_session(out / "transformer" / "model.onnx")
    cases = {}
    for native, aspect, b in ((256, 1.0, 2), (256, 2.0, 1), (512, 4.0, 1), (512, 0.25, 1)):
        h, w = (s // 8 for s in bucket_size(aspect, native))
        feeds = {"hidden_states": torch.randn(b, cfg["in_channels"], h, w), "timestep": torch.rand(b) * 1000,
                 "encoder_hidden_states": torch.randn(b, S, cfg["joint_attention_dim"]), "pooled_projections": torch.randn(b, cfg["pooled_projection_dim"])}
        with torch.no_grad():
            ref = dit(*feeds.values()).numpy()
        np_feeds = {k: v.numpy() for k, v in feeds.items()}
        f = t_float.run(None, np_feeds)[0]
        q = t_int8.run(None, np_feeds)[0]
        cases[f"{b}x{cfg['in_channels']}x{h}x{w}"] = {"float_vs_torch_max_abs": _max_diff(f, ref), "int8_vs_float_rel_l2": _rel_l2(q, f),
                                                       "int8_vs_float_max_abs": _max_diff(q, f), "ref_max_abs": float(np.abs(ref).max())}
    res["transformer"] = cases
    z = torch.randn(1, 16, 22, 46) / stats["scaling_factor"] + stats["shift_factor"]
    x = torch.rand(1, 3, 176, 368) * 2 - 1
    with torch.no_grad():
        dref, eref = VaeDecoderExport(vae)(z).numpy(), VaeEncoderExport(vae)(x).numpy()
    for name, ref, feed in (("vae_decoder", dref, {"latent_sample": z.numpy()}), ("vae_encoder", eref, {"sample": x.numpy()})):
        f = _ort_session(floats[name]).run(None, feed)[0]
        q = _ort_session(out / name / "model.onnx").run(None, feed)[0]
        res[name] = {"float_vs_torch_max_abs": _max_diff(f, ref), "int8_vs_float_rel_l2": _rel_l2(q, f), "int8_vs_float_max_abs": _max_diff(q, f)}
    ids = np.array([tokenizer(p) for p in ["a pizza in glossy style on a red to blue gradient background", "shopping cart icon, line style, dark blue on white", "guitar"]], dtype=np.int64)
    with torch.no_grad():
        tref = [t.numpy() for t in TextEncoderExport(te)(torch.from_numpy(ids))]
    f = _ort_session(floats["text_encoder"]).run(None, {"input_ids": ids})
    q = _ort_session(out / "text_encoder" / "model.onnx").run(None, {"input_ids": ids})
    res["text_encoder"] = {"float_vs_torch_max_abs": max(_max_diff(a, b) for a, b in zip(f, tref)),
                           "int8_vs_float_rel_l2": max(_rel_l2(a, b) for a, b in zip(q, f))}
    if prompts:
        res["images_int8_vs_float"] = _image_parity(out, floats, prompts, tokenizer, stats, max_seq, cfg, shift, guidance, steps)
    return res


def _ort_generate(sess, prompts, tokenizer, stats, max_seq, cfg, shift, guidance, steps, size=256, seed=0):
    """20-step text-to-image through ONNX Runtime sessions {text_encoder, transformer, vae_decoder}, as the engine does it."""
    te_s, tr_s, vd_s = sess["text_encoder"], sess["transformer"], sess["vae_decoder"]
    n_layers = len([o for o in te_s.get_outputs() if o.name.startswith("hidden_states.")]) - 1

    def encode(texts):
        outs = te_s.run(None, {"input_ids": np.array([tokenizer(t) for t in texts], dtype=np.int64)})
        names = [o.name for o in te_s.get_outputs()]
        tokens = outs[names.index(f"hidden_states.{n_layers - 1}")]
        pooled = outs[names.index("text_embeds")]
        tokens = np.pad(tokens, ((0, 0), (0, 0), (0, cfg["joint_attention_dim"] - tokens.shape[-1])))
        return np.concatenate([tokens, np.zeros((len(texts), max_seq, cfg["joint_attention_dim"]), np.float32)], 1).astype(np.float32), pooled

    ctx, pooled = encode(prompts)
    uctx, upooled = encode([""] * len(prompts))
    rng = np.random.default_rng(seed)
    lat = rng.standard_normal((len(prompts), cfg["in_channels"], size // 8, size // 8)).astype(np.float32)
    sig = flow_match_sigmas(steps, shift)
    for i in range(steps):
        t = np.full((2 * len(prompts),), np.float32(sig[i] * 1000), np.float32)
        v = tr_s.run(None, {"hidden_states": np.concatenate([lat, lat]), "timestep": t, "encoder_hidden_states": np.concatenate([uctx, ctx]),
                            "pooled_projections": np.concatenate([upooled, pooled])})[0]
        vu, vc = np.split(v, 2)
        lat = (lat + np.float32(sig[i + 1] - sig[i]) * (vu + guidance * (vc - vu))).astype(np.float32)
    img = vd_s.run(None, {"latent_sample": (lat / stats["scaling_factor"] + stats["shift_factor"]).astype(np.float32)})[0]
    return np.clip(np.round((np.clip(img, -1, 1) + 1) * 127.5), 0, 255).astype(np.uint8)


def _image_parity(out, floats, prompts, tokenizer, stats, max_seq, cfg, shift, guidance, steps):
    sess_f = {k: _ort_session(floats[k]) for k in ("text_encoder", "transformer", "vae_decoder")}
    sess_q = {k: _ort_session(out / k / "model.onnx") for k in ("text_encoder", "transformer", "vae_decoder")}
    a = _ort_generate(sess_f, prompts, tokenizer, stats, max_seq, cfg, shift, guidance, steps).astype(np.int32)
    b = _ort_generate(sess_q, prompts, tokenizer, stats, max_seq, cfg, shift, guidance, steps).astype(np.int32)
    d = np.abs(a - b)
    mse = ((a - b) / 255.0) ** 2
    return {"prompts": len(prompts), "steps": steps, "size": 256, "u8_mean_abs": float(d.mean()), "u8_p99_abs": float(np.percentile(d, 99)),
            "u8_max_abs": int(d.max()), "psnr_db": float(10 * np.log10(1.0 / max(mse.mean(), 1e-12)))}
