"""One resumable driver for everything after the dataset: VAE -> latent stats -> classifier ->
text encoder + MM-DiT -> evaluation -> export. Each call continues from --ckpt-in and stops
before --time-limit-s, saving its state to --ckpt-out; the call that finishes the DiT budget also
evaluates and exports.

  python -m flowfill.run --data .cache/data --ckpt-in runs --ckpt-out runs --package ../models/default \
      --eval-out eval --time-limit-s 560
"""
import argparse
import json
import time
from pathlib import Path

import torch

from . import checkpoint
from .classifier import train_classifier
from .data import EmojiData
from .evaluate import evaluate, save_aspect_strip, save_grid
from .export import export_package
from .train import MAX_SEQUENCE_LENGTH, finetune_vae_decoder, latent_statistics, load_trained, train_dit, train_vae

EXPORT_EVAL_RESERVE_S = 150


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--ckpt-in", required=True)
    ap.add_argument("--ckpt-out", required=True)
    ap.add_argument("--package", required=True)
    ap.add_argument("--eval-out", required=True)
    ap.add_argument("--time-limit-s", type=float, default=560)
    ap.add_argument("--vae-s", type=float, default=150)
    ap.add_argument("--clf-s", type=float, default=50)
    ap.add_argument("--dit-total-s", type=float, default=1500)
    ap.add_argument("--vae-decoder-finetune-s", type=float, default=90)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--finish", action="store_true", help="stop DiT training now: evaluate and export")
    ap.add_argument("--quick-eval", action="store_true")
    ap.add_argument("--steps", type=int, default=20)
    a = ap.parse_args(argv)
    t0 = time.time()
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True  # a few bucket shapes recur all run long
    log_lines = []

    def log(msg):
        line = f"[{time.time() - t0:6.1f}s] {msg}"
        print(line, flush=True)
        log_lines.append(line)

    data = EmojiData(a.data, "cuda")
    state = checkpoint.load_parts(a.ckpt_in) or {}
    log(f"resumed keys {sorted(state)} dit_steps {state.get('dit_steps', 0)} dit_seconds {state.get('dit_seconds', 0):.0f}")

    if "vae" not in state:
        vae, info = train_vae(data, a.vae_s, log)
        state["vae"] = vae.state_dict()
        state["vae_info"] = info
        state["latent_stats"] = latent_statistics(vae, data)
        ls = state["latent_stats"]
        log(f"latent stats: shift {ls['shift_factor']:.4f} scale {ls['scaling_factor']:.4f} recon L1 {ls['recon_l1_mean_latent']:.4f} rgb-fit MAE {ls['latent_rgb_fit_mae']:.4f}")
    if "classifier" not in state:
        clf, info = train_classifier(data, a.clf_s, log)
        state["classifier"] = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in clf.state_dict().items()}
        state["classifier_info"] = info

    vae, *_ = load_trained_vae_only(state, data)
    if "vae_decoder_finetune" not in state and a.vae_decoder_finetune_s > 0:
        torch.backends.cudnn.benchmark = False
        state["vae_decoder_finetune"] = finetune_vae_decoder(vae, data, a.vae_decoder_finetune_s, log)
        state["vae"] = vae.state_dict()
        torch.backends.cudnn.benchmark = True
    elapsed = time.time() - t0
    left = a.time_limit_s - elapsed
    dit_left = 0.0 if a.finish else max(0.0, a.dit_total_s - state.get("dit_seconds", 0.0))
    finishing = dit_left + EXPORT_EVAL_RESERVE_S <= left - 20
    budget = dit_left if finishing else max(0.0, left - 40)
    if budget > 5:
        state.update(train_dit(state, data, vae, budget, a.dit_total_s if not a.finish else 0, log, batch=a.batch))
    checkpoint.save_parts(state, a.ckpt_out)
    log(f"checkpoint saved to {a.ckpt_out}")
    if not (finishing or a.finish):
        log("DiT budget not finished: run again to continue")
        Path(a.eval_out).mkdir(parents=True, exist_ok=True)
        (Path(a.eval_out) / "train-log.txt").write_text("\n".join(log_lines))
        return

    vae, te, dit, clf = load_trained(state, data)
    stats = state["latent_stats"]
    report, samples, aspect_imgs = evaluate(data, te, dit, vae, clf, stats, MAX_SEQUENCE_LENGTH, log, steps=a.steps, quick=a.quick_eval)
    ev = Path(a.eval_out)
    ev.mkdir(parents=True, exist_ok=True)
    save_grid(ev / "held-out-samples.png", samples["held_out"], 8)
    save_aspect_strip(ev / "aspect-samples.png", aspect_imgs)
    (ev / "report.json").write_text(json.dumps(report, indent=2, default=float))  # again below with export results
    chosen = report["selection"]["chosen"]
    params = {name: sum(p.numel() for p in m.parameters()) for name, m in
              (("transformer", dit), ("text_encoder", te), ("vae_encoder", vae.encoder), ("vae_decoder", vae.decoder))}
    summary = {
        "dit_steps": state["dit_steps"], "dit_seconds": round(state["dit_seconds"], 1), "dit_batch": state.get("dit_batch"),
        "vae_steps": state["vae_info"]["steps"], "parameters": params,
        "final_dit_loss": state["dit_loss_history"][-1][1] if state["dit_loss_history"] else None,
    }
    result = export_package(a.package, data=data, vae=vae, te=te, dit=dit, stats=stats, max_sequence_length=MAX_SEQUENCE_LENGTH,
                            shift=chosen["shift"], guidance=chosen["guidance"], steps=a.steps, tokenizer_dir=a.data,
                            training_summary=summary, log=log)
    report.update({
        "export": result, "training": summary, "latent_stats": {k: v for k, v in stats.items() if not k.startswith("latent_rgb_f")},
        "vae_loss_history": state["vae_info"]["loss_history"], "dit_loss_history": state["dit_loss_history"],
        "classifier": state["classifier_info"], "vae_decoder_finetune": state.get("vae_decoder_finetune"),
    })
    (ev / "report.json").write_text(json.dumps(report, indent=2, default=float))
    (ev / "train-log.txt").write_text("\n".join(log_lines))
    log("done")


def load_trained_vae_only(state, data):
    from .vae import VAE_CONFIG, AutoencoderKL

    vae = AutoencoderKL(dict(VAE_CONFIG)).to(data.device)
    vae.load_state_dict(state["vae"])
    vae.eval().requires_grad_(False)
    return (vae,)


if __name__ == "__main__":
    main()
