"""One resumable driver for everything after the dataset, in slices of fixed wall time:

  evaluation classifier -> v1's evaluation (once) -> VAE -> latent bank + statistics
  -> text encoder + MM-DiT until the slice's deadline -> evaluation -> export (the package is the
  checkpoint, resume.py)

Each stage that is already done in --resume-in is skipped, so whatever a slice finishes is kept, and
every slice ends with a usable, evaluated package in --resume-out/package.

  python3 -m flowfill.run --data .cache/data --resume-in .cache/resume --resume-out /tmp/resume \
      --eval-out /tmp/eval --time-limit-s 540 [--v1 .cache/v1/v1-fp16.npz]
  python3 -m flowfill.run --data .cache/data --smoke --resume-out /tmp/smoke --eval-out /tmp/smoke-eval   # every stage, tiny, ~1 min on a GPU
"""
import argparse
import json
import time
from pathlib import Path

import torch

from . import distill, distributed, resume
from .bank import LatentBank
from .classifier import INPUT as CLASSIFIER_INPUT, train_classifier
from .data import ICON_SHARE, FlowfillData, write_samples
from .evaluate import (choose_scheduler, emoji_and_icons, evaluate_aspects, evaluate_sets, grid_512, held_out_sets,
                       save_aspect_strip, save_grid, seen_prompts)
from .export import export_package
from .mmdit import DIT_CONFIG, deepened, deepened_positions, widened
from .sampling import Pipeline
from .text_encoder import TEXT_CONFIG
from .train import (MAX_SEQUENCE_LENGTH, DitTrainer, build_models, images_per_step, latent_statistics, parse_mix, snap_to_int8, train_vae,
                    vae_psnr)
from .vae import VAE_CONFIG
from .vocabulary import TRAIN_SUBJECTS, prompt_vocabulary, subject_ids_of, weak_subject_ids

SMOKE = {
    "dit": dict(DIT_CONFIG, num_layers=2, num_attention_heads=2, attention_head_dim=32, caption_projection_dim=64,
                joint_attention_dim=64, pooled_projection_dim=64),
    "text": dict(TEXT_CONFIG, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, projection_dim=64),
    "vae": dict(VAE_CONFIG, block_out_channels=[8, 16, 16, 32], encoder_layers_per_block=[1, 1, 1, 1], decoder_layers_per_block=[1, 1, 1, 1]),
}


def share(text: str) -> float:
    """argparse type of a share (--icon-share, --low-noise-share): a number from 0 to 1."""
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text}: a share, between 0 and 1")
    return value


def sizes(text: str) -> tuple[int, ...]:
    """argparse type of --low-noise-at: size classes (native px, as --mix names them), comma-separated."""
    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"{text}: sizes in px as --mix names them, e.g. 512 or 256,512")
    return tuple(int(p) for p in parts)


def style_factors(text: str) -> dict[str, float]:
    """argparse type of --style-weights: NAME=FACTOR pairs, comma-separated, each factor above 0."""
    out = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = 0.0
        if not name.strip() or not factor > 0.0:
            raise argparse.ArgumentTypeError(f"{item!r}: a style's name and a factor above 0, as thin=2")
        out[name.strip()] = factor
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="dataset folder (node model/data/build-dataset.mjs)")
    ap.add_argument("--resume-in", help="folder from an earlier slice (package/, extras.json, classifier.npz); absent = start")
    ap.add_argument("--resume-out", required=True, help="where this slice writes package/, extras.json, classifier.npz")
    ap.add_argument("--eval-out", required=True, help="report.json, sample grids, train-log.txt")
    ap.add_argument("--time-limit-s", type=float, default=540, help="wall-time budget of this call, from process start")
    ap.add_argument("--reserve-s", type=float, default=150, help="kept for evaluation + export at the end")
    ap.add_argument("--clf-s", type=float, default=60)
    ap.add_argument("--judge-input", type=int,
                    help="the evaluation classifier's input side (64 until session 12): a resumed judge of another side is "
                         "replaced by one trained for --clf-s seconds, and v1 is measured again by it (pass --v1); the old "
                         "judge's numbers are kept in judge_changes. Every slice after that keeps the new judge")
    ap.add_argument("--vae-s", type=float, default=170)
    ap.add_argument("--bank-s", type=float, default=25, help="seconds spent filling the latent bank")
    ap.add_argument("--dit-total-s", type=float, default=1100, help="planned DiT seconds over all slices (cosine schedule length)")
    ap.add_argument("--batch", type=int, default=256, help="images per DiT step at 256² (a quarter at 512²)")
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--mix", default="256:0.75,512:0.25",
                    help="native sizes the DiT trains at, with weights: e.g. 128:0.5,256:0.3,512:0.2 adds 128² steps of 4x the images "
                         "(the same tokens a step), so each subject is seen 4x as often per GPU-second at a coarse size")
    ap.add_argument("--steps", type=int, default=20, help="sampling steps for evaluation and the package's recommendation")
    ap.add_argument("--v1", help="v1 weights (python3 -m flowfill.v1 pack): evaluated once, with the same prompts and classifier")
    ap.add_argument("--eval", choices=("full", "quick"), default="full",
                    help="quick: v1_emoji + icons at 256² with the previous sampler choice (seconds, for slices between full ones)")
    ap.add_argument("--smoke", action="store_true", help="tiny networks, tiny budgets, small evaluation: proves every stage runs")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--text-contrast", type=float, default=0.0,
                    help="weight of a contrastive loss between two wordings of each image's caption on the pooled text "
                         "features (train.paired_caption_loss; 0 = off)")
    ap.add_argument("--noise-shift", type=float, default=1.0,
                    help="multiplies the training timesteps' resolution shift (train.training_timesteps): > 1 trains more "
                         "near pure noise, where a subject's layout is decided (1 = SD3's sqrt(tokens / 256) alone)")
    ap.add_argument("--low-noise-share", type=share, default=0.0,
                    help="share of the training timesteps drawn without --noise-shift (resolution shift alone), so the low "
                         "noise levels where gloss and line weight are drawn keep some steps at a large shift (0 = none)")
    ap.add_argument("--low-noise-at", type=sizes, default=(),
                    help="the size classes (e.g. 512, or 256,512) whose timesteps take --low-noise-share; default every size")
    ap.add_argument("--edge-loss", type=float, default=0.0,
                    help="weight of train.edge_loss beside the MSE: the spatial differences of the implied clean latent "
                         "against the true one's, weighted towards low noise (for the torn contours, model README "
                         "\"Session 53\", 4); default 0, the MSE alone")
    ap.add_argument("--cooldown-to", type=share, default=1.0,
                    help="anneal this call: the learning rate falls linearly to this fraction of the schedule's over the "
                         "call's training time (train.cooldown_factor; 1 = off), for the last call before a release")
    ap.add_argument("--cuda-graphs", action="store_true",
                    help="replay each bucket's MM-DiT (and text encoder) forward and backward from CUDA graphs "
                         "(train.GraphedForward): the same arithmetic with far fewer kernel launches "
                         "(python3 -m flowfill.step_bench --cuda-graphs measures both)")
    ap.add_argument("--icon-share", type=share, default=ICON_SHARE,
                    help="the icons' share of the MM-DiT's training images (the rest emoji; 0.5 = the data's rule). The "
                         "evaluation's sets and the seen control are unchanged")
    ap.add_argument("--dit-layers", type=int,
                    help="depth of the MM-DiT; more than the resumed state's deepens it in place (mmdit.deepened: the new "
                         "blocks start as identity); absent = the resumed state's depth, or DIT_CONFIG's")
    ap.add_argument("--dit-heads", type=int,
                    help="attention heads of the MM-DiT (of width 32); twice the resumed state's widens it in place "
                         "(mmdit.widened: every channel, head and MLP unit duplicated, the same function up to the "
                         "positional table's new frequencies); absent = the resumed state's")
    ap.add_argument("--distill-guidance", type=float,
                    help="guidance distillation (flowfill.distill): the MM-DiT learns to predict --teacher's velocity under CFG "
                         "at this guidance from the prompt alone, so it samples at guidance 1 (batch 1, half the transformer "
                         "work); the text encoder is frozen; recorded in the state, whose later calls must keep it")
    ap.add_argument("--teacher", help="the transformer/ folder (config.json + model.onnx) of the package to distil")
    ap.add_argument("--distill-on-policy", type=share, default=0.0,
                    help="share of each distilling batch drawn from the student's own 20-step sampler trajectories, where "
                         "guided sampling goes, instead of from noised images (flowfill.on_policy; 0 = none)")
    ap.add_argument("--train-subjects", choices=tuple(TRAIN_SUBJECTS), default="all",
                    help="subjects the MM-DiT trains on: all; v1 = only the v1_emoji evaluation set's 200 (v1's vocabulary); "
                         "core = v1's 200 emoji and the icons evaluation set's 200 icons (those all three icon sets draw). "
                         "The held-out combinations stay excluded; the classifier, VAE and export are unchanged; the "
                         "evaluation adds top-1/top-5 among the trained subjects; may differ from the resumed state's")
    ap.add_argument("--core-share", type=share, default=0.0,
                    help="with --train-subjects all: this share of the MM-DiT's training images from the core vocabulary "
                         "(v1's 200 emoji and the icons set's 200) alone, the rest from every subject by the data's rule, so "
                         "a state trained on the core learns the other subjects without losing its own (0 = none)")
    ap.add_argument("--weak-share", type=share, default=0.0,
                    help="with --train-subjects core: this share of the MM-DiT's training images from the subjects --weak-from "
                         "finds recognised in under half their test images (its flowfill.json vocabulary's judged counts), "
                         "evenly over them, the rest by the data's rule (0 = none)")
    ap.add_argument("--weak-from", default="../models/default/flowfill.json",
                    help="the flowfill.json whose judged counts name the weak subjects (default: the shipped model's)")
    ap.add_argument("--style-weights", type=style_factors, default={},
                    help="NAME=FACTOR,…: each subject's training images lean to these styles by these factors among the "
                         "styles it has (thin=2 gives a subject drawn in line, filled, bold and thin 2/5 of its images in thin "
                         "instead of 1/4); every subject keeps its share (default: uniform over its styles)")
    ap.add_argument("--accept-data-change", action="store_true",
                    help="resume a state saved before data_content_sha256 although its whole-manifest hash differs "
                         "(e.g. only the caption templates changed); states with data_content_sha256 are checked on content alone")
    a = ap.parse_args(argv)
    if a.teacher and a.distill_guidance is None:
        ap.error("--teacher is the model --distill-guidance distils: give both")
    if a.distill_on_policy and a.distill_guidance is None:
        ap.error("--distill-on-policy is a way to distil: it needs --distill-guidance and --teacher")
    if a.core_share and a.train_subjects != "all":
        ap.error("--core-share weights the core vocabulary within every subject: it needs --train-subjects all")
    if a.weak_share and a.train_subjects != "core":
        ap.error("--weak-share weights the subjects the shipped model draws poorly among its own: it needs --train-subjects core")
    if a.edge_loss < 0:
        ap.error("--edge-loss is a weight beside the MSE: 0 or more")
    if a.edge_loss and a.distill_guidance is not None:
        ap.error("--edge-loss compares with the renders' latents; a distilling student's target is its teacher's velocity")
    if a.low_noise_share and a.noise_shift == 1.0:
        ap.error("--low-noise-share keeps some timesteps without --noise-shift: it needs a --noise-shift other than 1")
    if a.low_noise_at:
        if not a.low_noise_share:
            ap.error("--low-noise-at names the sizes of a --low-noise-share: it needs one")
        try:
            trained = set(parse_mix(a.mix))
        except ValueError as e:
            ap.error(str(e))
        if set(a.low_noise_at) - trained:
            ap.error(f"--low-noise-at {','.join(map(str, a.low_noise_at))}: the --mix trains {a.mix}")
    return a


def main(argv=None):
    a = parse_args(argv)
    t0 = time.time()
    deadline = t0 + a.time_limit_s
    ranks, dev = distributed.init(a.device)
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    lines = []
    ev = Path(a.eval_out)
    ev.mkdir(parents=True, exist_ok=True)

    def log(msg):
        if not ranks.main:
            print(f"[{time.time() - t0:6.1f}s] [rank {ranks.rank}] {msg}", flush=True)
            return
        line = f"[{time.time() - t0:6.1f}s] {msg}"
        print(line, flush=True)
        lines.append(line)
        (ev / "train-log.txt").write_text("\n".join(lines) + "\n")

    smoke = a.smoke
    if smoke:
        a.clf_s, a.vae_s, a.bank_s, a.dit_total_s, a.steps = 4, 6, 3, 8, 4
    data = FlowfillData(a.data, dev)
    if ranks.parallel:
        log(f"data-parallel DiT over {ranks.world} processes ({dev.type})")
    log(f"data: {data.num_subjects} subjects ({int(data.is_icon.sum())} icons), {len(data.manifest['sprites'])} sprites, "
        f"{len(data.styles)} styles, {len(data.colour_names)} colours, vocab {len(data.tokenizer)}; device {dev}")
    state = resume.load(a.resume_in, data, dev, accept_data_change=a.accept_data_change, log=log) if a.resume_in and Path(a.resume_in).exists() else {}
    log(f"resumed: {sorted(k for k in state if not isinstance(state[k], torch.nn.Module))}, dit_steps {state.get('dit_steps', 0)}, "
        f"dit_seconds {state.get('dit_seconds', 0):.0f}, weights read back vs the package's graphs: {state.get('resume_check', 'not checked')}")
    state.setdefault("gpu_seconds_by_call", [])
    replace_judge_if_asked(state, a.judge_input, log)
    sets = {k: (v[:4] if smoke else v) for k, v in data.eval_sets.items()}

    # The first slice's fixed-length stages shrink, if needed, so that the bank, the evaluation and
    # the export still fit before the deadline (the DiT then starts in the next slice).
    if not smoke and ("classifier" not in state or "vae" not in state):
        clf_need, vae_need = (0 if "classifier" in state else a.clf_s), (0 if "vae" in state else a.vae_s)
        fixed = max(clf_need, vae_need) if ranks.parallel else clf_need + vae_need
        available = deadline - time.time() - a.reserve_s - a.bank_s - (45 if a.v1 and "v1_eval" not in state else 15)
        if fixed > available:
            f = max(available, 80.0) / fixed
            a.clf_s, a.vae_s = max(20.0, a.clf_s * f), max(60.0, a.vae_s * f)
            log(f"time: classifier {a.clf_s:.0f}s and VAE {a.vae_s:.0f}s, shortened to fit {available:.0f}s before the reserve")

    # 1. Evaluation classifier (first slice only; kept in classifier.npz), on its own rank in
    #    parallel, beside the VAE.
    need_clf, need_vae = "classifier" not in state, "vae" not in state
    if need_clf and ranks.rank == ranks.classifier_rank:
        clf, info = train_classifier(data, a.clf_s, log, width=16 if smoke else 64, batch=64 if smoke else 512, eval_n=128 if smoke else 4096,
                                     input_size=a.judge_input or CLASSIFIER_INPUT)
        state["classifier"], state["classifier_info"] = clf.requires_grad_(False), info

    # 2. VAE, rounded to the int8 values it ships with before anything is encoded with it.
    if need_vae and ranks.main:
        vae, info = train_vae(data, a.vae_s, log, batch=8 if smoke else 128, config=SMOKE["vae"] if smoke else None)
        log(f"vae: {snap_to_int8(vae)} tensors rounded to int8")
        state["vae"], state["vae_info"] = vae, info
        state["vae_psnr_held_out"] = vae_psnr(vae, data, [p for s in ("v1_emoji", "emoji", "icons") for p in sets[s]])
        log(f"vae PSNR on held-out renders: {state['vae_psnr_held_out']}")
    if ranks.parallel:
        if need_clf:
            distributed.share(ranks, state, ("classifier", "classifier_info"), src=ranks.classifier_rank, device=dev)
        if need_vae:
            distributed.share(ranks, state, ("vae", "vae_info", "vae_psnr_held_out"), src=0, device=dev)
    vae = state["vae"].eval().requires_grad_(False)
    clf = state.get("classifier")  # rank 0's judge; other ranks never evaluate

    # 3. v1, measured once with the same prompts, classifier and metrics.
    if a.v1 and "v1_eval" not in state and ranks.main:
        state["v1_eval"] = evaluate_v1(a.v1, data, clf, sets["v1_emoji"], a.steps, log, fd_seeds=1 if smoke else 5)

    # 4. Latent bank (rebuilt every slice) and the latent statistics (first slice).
    mix = parse_mix(a.mix)
    natives = tuple(sorted(mix))
    # Entries per bucket scale with the images a step takes at that size (8,192 at 256²).
    capacity = tuple((16 if smoke else 8192) * images_per_step(256, n) // 256 for n in natives)
    # Only the DiT's draws are restricted (the latent statistics, first slice, come from this bank too).
    subjects = train_subject_ids(data, a.train_subjects)
    note_train_subjects(state, a.train_subjects, subjects, log)
    seen = seen_prompts(data, 4 if smoke else 200, subjects=subjects)
    core = train_subject_ids(data, "core") if a.core_share else None
    weak = weak_subjects(data, a.weak_from, subjects) if a.weak_share else None
    style_weights = style_ids(data, a.style_weights)
    bank = LatentBank(data, lambda x: vae.encode_moments(x)[0], natives=natives, capacity=capacity, seed=ranks.rank, subjects=subjects,
                      icon_share=a.icon_share, focus=core or weak, focus_share=a.core_share or a.weak_share,
                      focus_by_subject=weak is not None, style_weights=style_weights)
    if core:
        log(f"dit training images: {a.core_share:.0%} from the {len(core)} core subjects, the rest from all {data.num_subjects}")
    if weak:
        icons = int(data.is_icon[torch.as_tensor(weak, device=data.device)].sum())
        log(f"dit training images: {a.weak_share:.0%} from the {len(weak)} weak subjects of {a.weak_from} ({icons} icons), "
            f"the rest by the data's rule")
    if a.icon_share != ICON_SHARE:
        log(f"dit training images: {a.icon_share:.0%} icons")
    if style_weights:
        log("dit training images: each subject's styles weighted " + ", ".join(f"{k} ×{v:g}" for k, v in a.style_weights.items()))
    bank.fill(a.bank_s, log)
    if "latent_stats" not in state and ranks.main:
        state["latent_stats"] = latent_statistics(bank, data, vae, batches=1 if smoke else 8)
        ls = state["latent_stats"]
        log(f"latent stats: shift {ls['shift_factor']:.4f} scale {ls['scaling_factor']:.4f} rgb-fit MAE {ls['latent_rgb_fit_mae']:.4f} "
            f"max |z| {ls['max_abs_model_space']:.2f}")
    if ranks.parallel:
        distributed.share(ranks, state, ("latent_stats",), src=0, device=dev)

    # 5. Text encoder + MM-DiT until the deadline minus the reserve for evaluation and export.
    dit_config = grow_dit(state, a.dit_layers, SMOKE["dit"] if smoke else DIT_CONFIG, log, heads=a.dit_heads)
    # A resumed text encoder keeps its own shape, as the DiT does through grow_dit, so --smoke can rehearse a real state.
    text_config = state["te"].config if "te" in state else SMOKE["text"] if smoke else None
    te, dit = build_models(len(data.tokenizer), dev, dit_config, text_config)
    te_ema, dit_ema = build_models(len(data.tokenizer), dev, dit_config, text_config)
    if "dit" in state:
        for dst in (dit, dit_ema):
            dst.load_state_dict(state["dit"].state_dict())
        for dst in (te, te_ema):
            dst.load_state_dict(state["te"].state_dict())
    else:
        dit_ema.load_state_dict(dit.state_dict())
        te_ema.load_state_dict(te.state_dict())
    distributed.broadcast_params(ranks, (te, dit, te_ema, dit_ema))
    teacher = distill.prepare(state, a.distill_guidance, a.teacher, dev, log)
    trainer = DitTrainer(data, te, dit, te_ema, dit_ema, state["latent_stats"], lr=a.lr, batch=8 if smoke else a.batch,
                         refresh=4 if smoke else 32, seed=1000 + state.get("dit_steps", 0) + 7919 * ranks.rank, ranks=ranks, mix=mix,
                         text_contrast=a.text_contrast, noise_shift=a.noise_shift, low_noise_share=a.low_noise_share,
                         low_noise_sizes=a.low_noise_at, edge=a.edge_loss,
                         cooldown_to=a.cooldown_to, teacher=teacher, distill=state.get("distill"), cuda_graphs=a.cuda_graphs,
                         on_policy=a.distill_on_policy, sampler_steps=a.steps)
    if a.noise_shift != 1.0:
        log(f"dit training timesteps: resolution shift × {a.noise_shift:g} (median t at 256² {a.noise_shift / (1 + a.noise_shift):.2f})"
            + (f", {a.low_noise_share:.0%} of them without it" if a.low_noise_share else "")
            + (f" at {', '.join(f'{k}²' for k in a.low_noise_at)}" if a.low_noise_at else ""))
    if a.edge_loss:
        log(f"dit loss: MSE + {a.edge_loss:g} × the implied clean latent's edge L1, weighted (1 − t)²")
    if a.cooldown_to < 1.0:
        log(f"dit learning rate anneals over this call to {a.cooldown_to:g}× the schedule's")
    # Rank 0's clock decides, so every rank enters (or skips) the DiT stage together.
    budget = distributed.broadcast_object(ranks, a.dit_total_s if smoke else deadline - a.reserve_s - time.time(), src=0, device=dev)
    if budget > 5:
        trainer.run(bank, budget, state, a.dit_total_s, log)
    else:
        log(f"no time left for the DiT this slice ({budget:.0f}s)")
    del bank, trainer, te, dit, teacher
    distributed.finish(ranks)
    if not ranks.main:
        log("done: rank 0 evaluates and exports")
        return
    if dev.type == "cuda":
        torch.cuda.empty_cache()

    # 6. The EMA networks, rounded to their int8 values: exactly what the package holds.
    for m in (te_ema, dit_ema):
        m.eval().requires_grad_(False)
        snap_to_int8(m)
    state["dit"], state["te"] = dit_ema, te_ema
    stats = state["latent_stats"]
    pipe = Pipeline(tokenize=data.tokenize, text_encoder=te_ema, dit=dit_ema, vae_decode=vae.decode, scaling_factor=stats["scaling_factor"],
                    shift_factor=stats["shift_factor"], max_sequence_length=MAX_SEQUENCE_LENGTH)
    # A distilled MM-DiT samples at guidance 1: its prediction is already the guided one.
    distilled = "distill" in state
    if a.eval == "quick":
        previous = state.get("scheduler")
        if distilled and previous:
            previous = dict(previous, guidance=1.0)
        report = evaluate_quick(pipe, data, clf, sets, a.steps, log, ev, previous, vocabulary=subjects)
    else:
        report = evaluate_v2(pipe, data, clf, sets, seen, a.steps, log, ev, smoke, vocabulary=subjects,
                             guidances=(1.0,) if distilled else None)
    report.update({k: state.get(k) for k in ("v1_eval", "vae_psnr_held_out", "classifier_info", "vae_info", "dit_steps", "dit_seconds",
                                             "dit_gpu_seconds", "dit_loss_history", "train_subjects", "train_subjects_changes", "judge_changes",
                                             "distill")})
    state["scheduler"] = report["selection"]["chosen"]

    # 7. Export: the package (and with it the checkpoint).
    out = Path(a.resume_out)
    params = {n: sum(p.numel() for p in m.parameters()) for n, m in
              (("transformer", dit_ema), ("text_encoder", te_ema), ("vae_encoder", vae.encoder), ("vae_decoder", vae.decoder))}
    summary = {"version": "2.0.0", "dit_steps": state.get("dit_steps", 0), "dit_seconds": round(state.get("dit_seconds", 0.0), 1),
               "dit_batch": a.batch, "vae_steps": state["vae_info"]["steps"], "parameters": params,
               **({"guidance_distilled_from": state["distill"]} if distilled else {}),
               "final_dit_loss": state["dit_loss_history"][-1][1] if state.get("dit_loss_history") else None}
    chosen = state["scheduler"]
    parity_prompts = [sets["v1_emoji"][0]["text"], sets["icons"][0]["text"], sets["emoji"][0]["text"], "shopping cart icon, line style, dark blue on white"]
    report["export"] = export_package(out / "package", tokenizer=data.tokenizer.encode, vae=vae, te=te_ema, dit=dit_ema, stats=stats,
                                      max_sequence_length=MAX_SEQUENCE_LENGTH, shift=chosen["shift"], guidance=chosen["guidance"],
                                      steps=a.steps, tokenizer_dir=a.data, training_summary=summary, licences=data.manifest["licences"],
                                      log=log, parity_prompts=parity_prompts, vocabulary=prompt_vocabulary(data.manifest, subjects))
    report["training"] = summary
    state["gpu_seconds_by_call"].append(round(time.time() - t0, 1))
    state.setdefault("gpus_by_call", [1] * (len(state["gpu_seconds_by_call"]) - 1)).append(ranks.world)
    report["gpu_seconds_by_call"] = state["gpu_seconds_by_call"]
    report["gpus_by_call"] = state["gpus_by_call"]
    # What this call trained with, so a state's history says which recipe each slice used.
    state.setdefault("recipe_by_call", []).append({"call": len(state["gpu_seconds_by_call"]), "mix": a.mix, "text_contrast": a.text_contrast,
                                                    "noise_shift": a.noise_shift, "low_noise_share": a.low_noise_share,
                                                    "low_noise_at": list(a.low_noise_at), "edge_loss": a.edge_loss,
                                                    "cooldown_to": a.cooldown_to, "distill_guidance": a.distill_guidance,
                                                    "distill_on_policy": a.distill_on_policy,
                                                    "icon_share": a.icon_share, "train_subjects": a.train_subjects, "core_share": a.core_share,
                                                    "weak_share": a.weak_share, "style_weights": a.style_weights,
                                                    "dit_heads": dit_config["num_attention_heads"], "dit_layers": dit_config["num_layers"],
                                                    "dit_total_s": a.dit_total_s, "cuda_graphs": a.cuda_graphs, "batch": a.batch})
    report["recipe_by_call"] = state["recipe_by_call"]
    resume.save(out, state, data)
    (ev / "report.json").write_text(json.dumps(report, indent=1, default=float))
    log(f"done in {time.time() - t0:.0f}s: package + resume state in {out}, report in {ev}")


def style_ids(data, factors: dict[str, float]) -> dict[int, float]:
    """--style-weights by the data's style ids; a name the data has not is refused."""
    unknown = sorted(set(factors) - set(data.styles))
    if unknown:
        raise SystemExit(f"--style-weights: no style {', '.join(unknown)} (the data's styles: {', '.join(data.styles)})")
    return {data.styles.index(name): x for name, x in factors.items()}


def weak_subjects(data, flowfill_path: str, within: list[int] | None) -> list[int]:
    """--weak-from's weak subjects (vocabulary.weak_subject_ids), all of them among those trained on."""
    try:
        weak = weak_subject_ids(data.manifest, json.loads(Path(flowfill_path).read_text()))
    except (OSError, ValueError) as e:
        raise SystemExit(f"--weak-from {flowfill_path}: {e}")
    outside = sorted(set(weak) - set(within)) if within is not None else []
    if outside or not weak:
        raise SystemExit(f"--weak-from {flowfill_path}: " + (f"{len(outside)} weak subjects are not trained on" if outside else "no weak subjects"))
    return weak


def train_subject_ids(data, choice: str) -> list[int] | None:
    """The subject ids the DiT's training draws come from (--train-subjects): None = all; else the
    subjects of the evaluation sets TRAIN_SUBJECTS names, read from the manifest as evaluate.py reads the
    sets (the full sets, also under --smoke, which evaluates only their first prompts)."""
    return subject_ids_of(data.manifest, choice)


def replace_judge_if_asked(state: dict, size: int | None, log) -> None:
    """--judge-input: a resumed judge of another input side is dropped, and with it v1's numbers by that judge,
    so that this slice trains a new judge and measures v1 again. Every number in a report is then the new
    judge's; the old judge's own accuracy and v1's numbers by it stay in judge_changes."""
    clf = state.get("classifier")
    if size is None or clf is None or clf.input_size == size:
        return
    retire_judge(state, size)
    log(f"judge: the resumed classifier reads {clf.input_size}² inputs; this slice trains one at {size}² and measures v1 again")


def retire_judge(state: dict, to_input: int, reason: str | None = None) -> None:
    """Drops the state's judge and v1's numbers by it; its own accuracy and those numbers stay in judge_changes."""
    clf = state.get("classifier")
    change = {"from_input": clf.input_size if clf is not None else None, "to_input": to_input, "at_dit_step": state.get("dit_steps", 0),
              "old_classifier_info": state.get("classifier_info"), "old_v1_eval": state.get("v1_eval")}
    state.setdefault("judge_changes", []).append(dict(change, reason=reason) if reason else change)
    for key in ("classifier", "classifier_info", "v1_eval"):
        state.pop(key, None)


def note_train_subjects(state: dict, choice: str, subjects: list[int] | None, log) -> None:
    """Records this slice's --train-subjects in the state (saved with it, so a later slice knows). An
    ablation, not a data change: a resumed state may have trained on others; the switch is logged and kept
    in train_subjects_changes. States from before the option trained on all."""
    before = state.get("train_subjects", "all" if state.get("dit_steps") else None)
    log(f"dit trains on subjects: {choice}" + ("" if subjects is None else f" ({len(subjects)}: the {' + '.join(TRAIN_SUBJECTS[choice])} sets')"))
    if before is not None and before != choice:
        state.setdefault("train_subjects_changes", []).append({"from": before, "to": choice, "at_dit_step": state.get("dit_steps", 0)})
        log(f"dit: the resumed state trained on subjects {before} until step {state.get('dit_steps', 0)}; this slice switches to {choice}")
    state["train_subjects"] = choice


def grow_dit(state: dict, layers: int | None, start_config: dict, log, heads: int | None = None) -> dict:
    """The DiT config this slice trains: the resumed model's (deepened in place when `layers` asks for
    more blocks, widened when `heads` asks for twice its heads; both recorded in state["dit_growth"]),
    else `start_config` at `layers` and `heads`."""
    if "dit" not in state:
        cfg = dict(start_config, num_layers=layers) if layers else dict(start_config)
        if heads:
            cfg.update(num_attention_heads=heads, caption_projection_dim=heads * cfg["attention_head_dim"])
        return cfg
    have = state["dit"].config["num_attention_heads"]
    if heads is not None and heads != have:
        if heads != 2 * have:
            raise ValueError(f"--dit-heads {heads}: the resumed MM-DiT has {have} heads; it can only be widened to twice that ({2 * have})")
        state["dit"] = widened(state["dit"])
        state.setdefault("dit_growth", []).append({"heads": [have, heads], "at_dit_step": state.get("dit_steps", 0)})
        log(f"dit: widened from {have} to {heads} heads (width {state['dit'].inner_dim}; channels, heads and MLP units duplicated, "
            f"the copies' position codes new)")
    current = state["dit"].config["num_layers"]
    if layers is None or layers == current:
        return dict(state["dit"].config)
    if layers < current:
        raise ValueError(f"--dit-layers {layers}: the resumed MM-DiT has {current} blocks and cannot be made shallower")
    state["dit"] = deepened(state["dit"], layers)
    positions = deepened_positions(current, layers)
    state.setdefault("dit_growth", []).append({"layers": [current, layers], "at_dit_step": state.get("dit_steps", 0), "positions": positions})
    log(f"dit: deepened from {current} to {layers} blocks (trained ones at {positions}, the new ones start as identity)")
    return dict(state["dit"].config)


def evaluate_v1(npz, data, clf, prompts, steps, log, fd_seeds=5):
    from .v1 import load_pipeline

    pipe, vae1, rec = load_pipeline(npz, data.device)
    t = time.time()
    res = {"weights": "v1 package, fp32 weights rounded to float16 for travel", "recommended": rec, "steps": steps,
           "guidance": rec["guidance"], "shift": rec["shift"]}
    # The same scoring as v2's sets (seeds, real renders, FD), so sampler_check can measure v1 at other samplers.
    scores, _ = evaluate_sets(pipe, data, clf, {"v1_emoji": prompts}, (256,), steps=steps, guidance=rec["guidance"], shift=rec["shift"],
                              log=lambda _: None, fd_seeds=fd_seeds)
    res["v1_emoji@256"] = scores["v1_emoji@256"]
    gen = torch.Generator(device=data.device).manual_seed(3)
    with torch.no_grad():
        psnr = []
        for i in range(0, len(prompts), 50):
            x = data.compose(data.conditions_for(prompts[i: i + 50]), 256, 256, gen)
            rec_x = vae1.decode(vae1.encode_moments(x)[0]).clamp(-1, 1)
            psnr.append(10 * torch.log10(1.0 / ((rec_x - x) / 2).pow(2).mean(dim=(1, 2, 3)).clamp(min=1e-12)))
    res["vae_psnr_v1_emoji@256"] = float(torch.cat(psnr).mean())
    log(f"v1 evaluated in {time.time() - t:.0f}s: {res}")
    del pipe, vae1
    return res


def evaluate_quick(pipe, data, clf, sets, steps, log, ev: Path, previous: dict | None, vocabulary: list[int] | None = None) -> dict:
    """A progress reading between full evaluations: no sampler search, two held-out sets at 256²."""
    t = time.time()
    chosen = previous or {"shift": 3.0, "guidance": 5.0}
    report = {"steps": steps, "sets": {k: len(sets[k]) for k in ("v1_emoji", "icons")},
              "selection": {"on": "not searched (quick evaluation): the previous choice, else v1's", "grid": {}, "chosen": chosen}}
    res, samples = evaluate_sets(pipe, data, clf, {"v1_emoji": sets["v1_emoji"], "icons": sets["icons"]}, (256,), fd_seeds=1,
                                 steps=steps, guidance=chosen["guidance"], shift=chosen["shift"], log=log, vocabulary=vocabulary)
    report["results"] = res
    save_grid(ev / "held-out-256.png", torch.cat([samples["v1_emoji@256"][:16], samples["icons@256"][:8]]), 8)
    log(f"quick evaluation done in {time.time() - t:.0f}s")
    return report


def evaluate_v2(pipe, data, clf, sets, seen, steps, log, ev: Path, smoke: bool, vocabulary: list[int] | None = None,
                guidances: tuple | None = None) -> dict:
    t = time.time()
    report = {"steps": steps, "sets": {k: len(v) for k, v in sets.items()}}
    grid = dict(shifts=(3.0,), guidances=(5.0,)) if smoke else {}
    if guidances:
        grid["guidances"] = guidances
    chosen, sel = choose_scheduler(pipe, data, clf, seen, steps, log, vocabulary=vocabulary, seeds=1 if smoke else None, **grid)
    seeds = next(iter(sel.values()))["n"] // len(seen)
    on = (f"seen prompts at 256², {seeds} image(s) each" + ("" if vocabulary is None else f", of the {len(vocabulary)} trained "
          "subjects, by top-1 among them") + "; ties within one paired standard error of the best taken by the lowest FD")
    report["selection"] = {"on": on, "grid": sel, "chosen": chosen}
    sampling = dict(steps=steps, guidance=chosen["guidance"], shift=chosen["shift"])
    kw = dict(sampling, log=log, vocabulary=vocabulary)
    res, samples = held_out_sets(pipe, data, clf, sets, seen, fd_seeds=1 if smoke else 5, **kw)
    report["results"] = res
    aspects, strips = evaluate_aspects(pipe, data, clf, emoji_and_icons(sets)[: 4 if smoke else 40], 512, **kw)
    report["aspects"] = aspects
    report["aspect_sizes"] = {k: v["size"] for k, v in aspects.items()}
    save_grid(ev / "held-out-256.png", torch.cat([samples["v1_emoji@256"][:8], samples["emoji@256"][:8], samples["icons@256"][:8]]), 8)
    save_aspect_strip(ev / "aspect-samples.png", strips)
    report["grid_512_prompts"] = grid_512(pipe, sets, ev, n=8 if smoke else 64, **sampling)
    write_samples(data, ev / "training-composites", n=8)
    log(f"evaluation done in {time.time() - t:.0f}s")
    return report


if __name__ == "__main__":
    main()
