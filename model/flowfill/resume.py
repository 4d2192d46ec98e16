"""Resuming from the exported package: the package is the checkpoint.

Everything needed to continue training is the package folder (what models/default/ holds) plus two
small files next to it:
  extras.json     progress (steps, seconds), loss histories, latent statistics, v1's evaluation,
                  the scheduler choice and the data manifest's hash
  classifier.npz  the evaluation classifier (float16), so every slice is scored by the same judge

The package's int8 weights are exactly the weights training continues from: after the VAE is
trained, and at the end of every slice, the weights that ship as int8 are rounded to their int8
values in PyTorch too (train.snap_to_int8), and the package stores those. Between slices the
optimiser's moments are not kept (Adam restarts with a 100-step warm-up) and the raw weights restart
from the exported EMA, as v1's slim checkpoint did. A resume directory is ~20 MB, small enough to
commit (models/default/ + model/eval/resume/).
"""
import json
from pathlib import Path

import numpy as np
import torch

from .classifier import FlowfillClassifier
from .onnx_weights import read_state_dict

EXTRAS = "extras.json"
CLASSIFIER = "classifier.npz"


def has_package(resume_dir) -> bool:
    return (Path(resume_dir) / "package" / "model_index.json").exists()


def load_classifier(resume_dir, device) -> "FlowfillClassifier":
    """The state's evaluation classifier alone (classifier.npz, float16 weights read as float32), frozen."""
    z = np.load(Path(resume_dir) / CLASSIFIER)
    cfg = json.loads(bytes(z["__config__"]).decode())
    clf = FlowfillClassifier(**cfg)
    clf.load_state_dict({k: torch.from_numpy(z[k].astype(np.float32) if z[k].dtype == np.float16 else z[k]) for k in z.files if k != "__config__"})
    return clf.to(device).eval().requires_grad_(False)


def load(resume_dir, data, device, accept_data_change: bool = False, log=print) -> dict:
    """State dict for run.py: extras, plus 'te', 'dit', 'vae' (modules, EMA = raw) and 'classifier' when present.

    The dataset check compares data_content_sha256 (the manifest without its caption templates: the
    weights depend on the images, subjects, styles, colours and tokenizer, not on the captions' wording).
    A state saved before that key existed has only data_manifest_sha256 (the whole manifest's bytes); a
    mismatch there is refused unless accept_data_change (run.py --accept-data-change)."""
    from .text_encoder import CLIPTextModelWithProjection
    from .vae import AutoencoderKL

    d = Path(resume_dir)
    state: dict = json.loads((d / EXTRAS).read_text()) if (d / EXTRAS).exists() else {}
    check_data(state, data, d / EXTRAS, accept_data_change, log)
    if (d / CLASSIFIER).exists():
        state["classifier"] = load_classifier(d, device)
    pkg = d / "package"
    if has_package(d):
        cfg = {c: json.loads((pkg / c / "config.json").read_text()) for c in ("transformer", "text_encoder", "vae_decoder")}
        dit = load_transformer(pkg / "transformer")
        te = CLIPTextModelWithProjection(cfg["text_encoder"])
        te.load_state_dict({k: torch.from_numpy(v) for k, v in read_state_dict(pkg / "text_encoder" / "model.onnx", te.state_dict()).items()}, strict=True)
        vcfg = {k: v for k, v in cfg["vae_decoder"].items() if k not in ("scaling_factor", "shift_factor")}
        vae = AutoencoderKL(dict(vcfg, scaling_factor=1.0, shift_factor=0.0))
        expected = vae.state_dict()
        sd = read_state_dict(pkg / "vae_decoder" / "model.onnx", {k: v for k, v in expected.items() if k.startswith("decoder.")})
        sd.update(read_state_dict(pkg / "vae_encoder" / "model.onnx", {k: v for k, v in expected.items() if k.startswith("encoder.")}))
        vae.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()}, strict=True)
        try:
            check = verify_against_graphs(pkg, dit, te)
        except WeightsMismatch:
            raise
        except Exception as e:  # the check itself failing must not cost a training slice
            check = {"error": f"{type(e).__name__}: {e}"}
        if check is not None:
            state["resume_check"] = check
        state.update(dit=dit.to(device), te=te.to(device), vae=vae.to(device).eval().requires_grad_(False))
        if "latent_stats" not in state:
            raise ValueError(f"{d / EXTRAS} lacks latent_stats; the package alone cannot resume")
    return state


def load_transformer(folder) -> torch.nn.Module:
    """The MM-DiT of a package's transformer/ folder (config.json + model.onnx), on the CPU."""
    from .mmdit import SD3Transformer2DModel

    folder = Path(folder)
    dit = SD3Transformer2DModel(json.loads((folder / "config.json").read_text()))
    full = dit.state_dict()
    full.update({k: torch.from_numpy(v) for k, v in read_state_dict(folder / "model.onnx", dit.state_dict()).items()})
    dit.load_state_dict(full, strict=True)
    return dit


class WeightsMismatch(ValueError):
    pass


def pipeline(state: dict, data):
    """The sampling pipeline of a loaded state, its networks frozen for inference (as the evaluation samples)."""
    from .sampling import Pipeline
    from .train import MAX_SEQUENCE_LENGTH

    for m in (state["te"], state["dit"]):
        m.eval().requires_grad_(False)
    stats = state["latent_stats"]
    return Pipeline(tokenize=data.tokenize, text_encoder=state["te"], dit=state["dit"], vae_decode=state["vae"].decode,
                    scaling_factor=stats["scaling_factor"], shift_factor=stats["shift_factor"], max_sequence_length=MAX_SEQUENCE_LENGTH)


def verify_against_graphs(pkg: Path, dit, te, tolerance: float = 1e-3) -> dict | None:
    """The weights read back must reproduce the package's own graphs (ONNX Runtime, CPU): a reader
    that put a square matrix in transposed would otherwise resume from wrong weights silently.
    None where onnxruntime is not installed (the GPU machine has it)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    from .export import TransformerExport, _ort_session
    from .text_encoder import TextEncoderExport

    g = torch.Generator().manual_seed(0)
    errors = {}
    for name, module, make in (
        ("text_encoder", TextEncoderExport(te), lambda i: torch.randint(0, te.config["vocab_size"], _static(i.shape, 1), generator=g)),
        ("transformer", TransformerExport(dit), lambda i: (torch.rand(_static(i.shape, 1), generator=g) * 1000 if i.name == "timestep"
                                                            else torch.randn(_static(i.shape, 32), generator=g))),
    ):
        sess = _ort_session(pkg / name / "model.onnx")
        feeds = {i.name: make(i) for i in sess.get_inputs()}
        if name == "transformer":
            feeds["hidden_states"] = feeds["hidden_states"][:, :, :32, :32]
        got = sess.run(None, {k: v.numpy() for k, v in feeds.items()})[0]
        with torch.no_grad():
            out = module.float().eval()(*feeds.values())
        want = (out[0] if isinstance(out, tuple) else out).numpy()
        errors[name] = float(np.abs(got - want).max())
        if not errors[name] <= tolerance:
            raise WeightsMismatch(f"{pkg / name / 'model.onnx'}: weights read back differ from the graph by {errors[name]:.3g} "
                             f"(tolerance {tolerance}); the reader mapped a tensor wrongly")
    return errors


def _static(shape, fill: int) -> list[int]:
    """An input shape with its symbolic dimensions set: batch 1, others `fill`."""
    return [d if isinstance(d, int) else (1 if i == 0 else fill) for i, d in enumerate(shape)]


def save(resume_dir, state: dict, data) -> Path:
    """Writes extras.json and classifier.npz next to the package already exported into resume_dir/package."""
    d = Path(resume_dir)
    d.mkdir(parents=True, exist_ok=True)
    extras = {k: v for k, v in state.items() if k not in ("dit", "te", "vae", "classifier", "dit_ema", "te_ema")}
    extras["data_manifest_sha256"] = data_manifest_hash(data)
    extras["data_content_sha256"] = data_content_hash(data)
    (d / EXTRAS).write_text(json.dumps(extras, indent=1, default=float))
    clf = state.get("classifier")
    if clf is not None:
        arrays = {k: (v.detach().cpu().numpy().astype(np.float16) if v.is_floating_point() else v.detach().cpu().numpy())
                  for k, v in clf.state_dict().items()}
        arrays["__config__"] = np.frombuffer(json.dumps(clf.config).encode(), dtype=np.uint8)
        np.savez_compressed(d / CLASSIFIER, **arrays)
    return d


def data_manifest_hash(data) -> str:
    import hashlib

    return hashlib.sha256((Path(data.dir) / "manifest.json").read_bytes()).hexdigest()


def data_content_hash(data) -> str:
    """sha256 of the manifest without its caption "templates", as canonical JSON: what the weights depend on."""
    import hashlib

    manifest = json.loads((Path(data.dir) / "manifest.json").read_text())
    manifest.pop("templates", None)
    return hashlib.sha256(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_data(state: dict, data, where, accept_data_change: bool = False, log=print) -> None:
    """Raises when the resumed state was trained on different data (see load)."""
    if state.get("data_content_sha256"):
        if state["data_content_sha256"] != data_content_hash(data):
            raise ValueError(f"{where}: trained on a different dataset (data_content_sha256 {state['data_content_sha256'][:12]}…: the "
                             "manifest without its caption templates differs); rebuild the data with the same builder, or start without --resume")
        return
    legacy = state.get("data_manifest_sha256")
    current = data_manifest_hash(data) if legacy else None
    if legacy and legacy != current:
        if not accept_data_change:
            raise ValueError(f"{where}: trained on a different dataset (data_manifest_sha256 {legacy[:12]}…, the whole manifest; this "
                             "state predates data_content_sha256); rebuild the data with the same builder, start without --resume, or "
                             "pass --accept-data-change if only the caption templates changed")
        log(f"!! {where}: legacy data_manifest_sha256 {legacy[:12]}… differs from this dataset's manifest "
            f"{current[:12]}…; accepted on request (--accept-data-change)")
