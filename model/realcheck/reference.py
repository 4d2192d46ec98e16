"""Random-weight full-size SD3-family checkpoints and diffusers reference outputs (see README.md).

    python3 reference.py make --model sd35m --out /tmp/ck/sd35m [--encoders full|none]
    python3 reference.py outputs --folder /tmp/ck/sd35m --out /tmp/ref/sd35m [--sizes 512,1024]

`outputs` writes raw little-endian float32 arrays plus reference.json (shapes, files, PyTorch
timings). Inputs are seeded, so Flowfill reads the same numbers from the files, not from a PRNG.
"""
import argparse
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent

TRANSFORMERS = {
    # Real configurations (diffusers SD3Transformer2DModel); see README.md.
    "sd3m": dict(sample_size=128, patch_size=2, in_channels=16, num_layers=24, attention_head_dim=64, num_attention_heads=24,
                 joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048, out_channels=16,
                 pos_embed_max_size=192),
    "sd35m": dict(sample_size=128, patch_size=2, in_channels=16, num_layers=24, attention_head_dim=64, num_attention_heads=24,
                  joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048, out_channels=16,
                  pos_embed_max_size=384, qk_norm="rms_norm", dual_attention_layers=tuple(range(13))),
    "sd35l": dict(sample_size=128, patch_size=2, in_channels=16, num_layers=38, attention_head_dim=64, num_attention_heads=38,
                  joint_attention_dim=4096, caption_projection_dim=2432, pooled_projection_dim=2048, out_channels=16,
                  pos_embed_max_size=192, qk_norm="rms_norm"),
}
STORED_DTYPE = {"sd3m": torch.float16, "sd35m": torch.bfloat16, "sd35l": torch.bfloat16}

VAE = dict(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
           block_out_channels=[128, 256, 512, 512], layers_per_block=2, act_fn="silu", latent_channels=16, norm_num_groups=32,
           sample_size=1024, scaling_factor=1.5305, shift_factor=0.0609, use_quant_conv=False, use_post_quant_conv=False)

CLIP_L = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, projection_dim=768, num_hidden_layers=12,
              num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", layer_norm_eps=1e-5,
              bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
CLIP_G = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, projection_dim=1280, num_hidden_layers=32,
              num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", layer_norm_eps=1e-5,
              bos_token_id=49406, eos_token_id=49407, pad_token_id=1)
T5_XXL = dict(vocab_size=32128, d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_decoder_layers=24, num_heads=64,
              relative_attention_num_buckets=32, relative_attention_max_distance=128, dropout_rate=0.0, layer_norm_epsilon=1e-6,
              feed_forward_proj="gated-gelu", is_encoder_decoder=True, use_cache=False, pad_token_id=0, eos_token_id=1)

SCHEDULER = {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000, "shift": 3.0}


def save_clip_tokenizer(folder: Path, pad_token: str, vocab_gz: Path) -> None:
    """vocab.json + merges.txt + tokenizer_config.json, as the Hub's SD3 repos hold them (no tokenizer.json)."""
    import gzip

    merges = gzip.open(vocab_gz, "rt", encoding="utf-8").read().split("\n")[1:49152 - 256 - 2 + 1]
    merges = [tuple(m.split()) for m in merges]
    # CLIP's byte-level alphabet, as openai/CLIP simple_tokenizer.bytes_to_unicode builds it.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    alphabet = [chr(c) for c in cs]
    vocab = alphabet + [v + "</w>" for v in alphabet] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": pad_token, "do_lower_case": True}))


def make(args: argparse.Namespace) -> None:
    from diffusers import AutoencoderKL, SD3Transformer2DModel

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    dtype = STORED_DTYPE[args.model]
    torch.manual_seed(0)
    started = time.time()
    with torch.device("cuda"):
        transformer = SD3Transformer2DModel(**TRANSFORMERS[args.model])
    transformer.to(dtype).save_pretrained(out / "transformer", max_shard_size="5GB")
    params = sum(p.numel() for p in transformer.parameters())
    del transformer
    torch.manual_seed(1)
    with torch.device("cuda"):
        vae = AutoencoderKL(**VAE)
    vae.to(torch.float16).save_pretrained(out / "vae")
    del vae
    (out / "scheduler").mkdir()
    (out / "scheduler" / "scheduler_config.json").write_text(json.dumps(SCHEDULER))
    index = {"_class_name": "StableDiffusion3Pipeline", "_diffusers_version": "0.40.0.dev0",
             "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"], "transformer": ["diffusers", "SD3Transformer2DModel"],
             "vae": ["diffusers", "AutoencoderKL"], "feature_extractor": [None, None], "image_encoder": [None, None]}
    if args.encoders == "full":
        from transformers import CLIPTextConfig, CLIPTextModelWithProjection, T5Config, T5EncoderModel

        for name, config, pad, seed in (("text_encoder", CLIP_L, "<|endoftext|>", 2), ("text_encoder_2", CLIP_G, "!", 3)):
            torch.manual_seed(seed)
            with torch.device("cuda"):
                model = CLIPTextModelWithProjection(CLIPTextConfig(**config))
            model.to(dtype).save_pretrained(out / name)
            save_clip_tokenizer(out / name.replace("text_encoder", "tokenizer"), pad, Path(args.clip_vocab))
            index[name] = ["transformers", "CLIPTextModelWithProjection"]
            index[name.replace("text_encoder", "tokenizer")] = ["transformers", "CLIPTokenizer"]
        torch.manual_seed(4)
        with torch.device("cuda"):
            t5 = T5EncoderModel(T5Config(**T5_XXL))
        t5.to(dtype).save_pretrained(out / "text_encoder_3", max_shard_size="5GB")
        shutil.copytree(args.t5_tokenizer, out / "tokenizer_3")
        index["text_encoder_3"] = ["transformers", "T5EncoderModel"]
        index["tokenizer_3"] = ["transformers", "T5TokenizerFast"]
    else:
        for name in ("text_encoder", "text_encoder_2", "text_encoder_3", "tokenizer", "tokenizer_2", "tokenizer_3"):
            index[name] = [None, None]
    (out / "model_index.json").write_text(json.dumps(index, indent=2))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(json.dumps({"made": args.model, "transformer_params": params, "bytes": size, "seconds": round(time.time() - started, 1)}))


def save(out: Path, manifest: dict, name: str, tensor: torch.Tensor) -> None:
    array = tensor.detach().float().cpu().numpy()
    array.tofile(out / f"{name}.bin")
    manifest["arrays"][name] = {"file": f"{name}.bin", "shape": list(array.shape), "dtype": "float32"}


def cuda_time_ms(fn, warmup: int = 2, runs: int = 5) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return float(np.median(times))


def outputs(args: argparse.Namespace) -> None:
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel

    folder, out = Path(args.folder), Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = {"format": "flowfill-realcheck/1", "folder": str(folder), "arrays": {}, "timings_ms": {}, "cases": []}
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    transformer = SD3Transformer2DModel.from_pretrained(folder / "transformer", torch_dtype=torch.float32).cuda().eval()
    config = transformer.config
    gen = torch.Generator().manual_seed(1234)
    text_tokens = 77 + 256
    embeds = torch.randn(2, text_tokens, config.joint_attention_dim, generator=gen)
    pooled = torch.randn(2, config.pooled_projection_dim, generator=gen)
    save(out, manifest, "encoder_hidden_states", embeds)
    save(out, manifest, "pooled_projections", pooled)
    embeds, pooled = embeds.cuda(), pooled.cuda()
    sizes = [int(s) for s in args.sizes.split(",")]
    with torch.no_grad():
        for size in sizes:
            latent = size // 8
            x = torch.randn(2, config.in_channels, latent, latent, generator=gen)
            t = torch.tensor([700.0, 700.0])
            save(out, manifest, f"step0_{size}_hidden_states", x)
            save(out, manifest, f"step0_{size}_timestep", t)
            x, t = x.cuda(), t.cuda()
            y = transformer(hidden_states=x, timestep=t, encoder_hidden_states=embeds, pooled_projections=pooled, return_dict=False)[0]
            save(out, manifest, f"step0_{size}_out_fp32", y)
            manifest["timings_ms"][f"torch_fp32_step_{size}"] = cuda_time_ms(
                lambda: transformer(hidden_states=x, timestep=t, encoder_hidden_states=embeds, pooled_projections=pooled, return_dict=False))
            manifest["cases"].append({"size": size, "latent": latent})
        # 4 steps of flow-match Euler with CFG 5 at the first size, then the VAE decode.
        scheduler = FlowMatchEulerDiscreteScheduler.from_pretrained(folder / "scheduler")
        size = sizes[0]
        latent = size // 8
        noise = torch.randn(1, config.in_channels, latent, latent, generator=gen)
        save(out, manifest, "loop_noise", noise)
        scheduler.set_timesteps(4)
        latents = noise.cuda()
        per_step = []
        for t in scheduler.timesteps:
            model_in = torch.cat([latents] * 2)
            v = transformer(hidden_states=model_in, timestep=t.expand(2).cuda(), encoder_hidden_states=embeds,
                            pooled_projections=pooled, return_dict=False)[0]
            uncond, cond = v.chunk(2)
            v = uncond + 5.0 * (cond - uncond)
            latents = scheduler.step(v, t, latents, return_dict=False)[0]
            per_step.append(latents)
        save(out, manifest, "loop_latents_after_each_step", torch.stack(per_step))
        manifest["loop"] = {"size": size, "steps": 4, "guidance": 5.0, "timesteps": scheduler.timesteps.tolist()}
        # PyTorch half-precision peers (the same graph, batch 2): the numbers Flowfill's WebGPU engine is compared with.
        for dtype_name, dtype in (("fp16", torch.float16), ("bf16", torch.bfloat16)):
            transformer.to(dtype)
            for size in sizes:
                latent = size // 8
                x = torch.randn(2, config.in_channels, latent, latent, generator=gen).cuda().to(dtype)
                t = torch.tensor([700.0, 700.0]).cuda().to(dtype)
                e, p = embeds.to(dtype), pooled.to(dtype)
                if dtype_name == "fp16" and size == sizes[0]:
                    x32 = torch.from_numpy(np.fromfile(out / f"step0_{size}_hidden_states.bin", dtype=np.float32).reshape(2, config.in_channels, latent, latent)).cuda()
                    y16 = transformer(hidden_states=x32.to(dtype), timestep=torch.tensor([700.0, 700.0]).cuda().to(dtype),
                                      encoder_hidden_states=e, pooled_projections=p, return_dict=False)[0].float()
                    ref = torch.from_numpy(np.fromfile(out / f"step0_{size}_out_fp32.bin", dtype=np.float32)).cuda().reshape(y16.shape)
                    manifest[f"torch_{dtype_name}_step0_{size}_rel_l2"] = float((y16 - ref).norm() / ref.norm())
                manifest["timings_ms"][f"torch_{dtype_name}_step_{size}"] = cuda_time_ms(
                    lambda: transformer(hidden_states=x, timestep=t, encoder_hidden_states=e, pooled_projections=p, return_dict=False))
        del transformer
        torch.cuda.empty_cache()
        vae = AutoencoderKL.from_pretrained(folder / "vae", torch_dtype=torch.float32).cuda().eval()
        z = latents / vae.config.scaling_factor + vae.config.shift_factor
        save(out, manifest, "loop_vae_decoder_input", z)
        image = vae.decode(z, return_dict=False)[0]
        save(out, manifest, "loop_image", (image / 2 + 0.5).clamp(0, 1))
    if (folder / "text_encoder_3").exists():
        encoders(folder, out, manifest)
    manifest["torch"] = torch.__version__
    manifest["device"] = torch.cuda.get_device_name()
    (out / "reference.json").write_text(json.dumps(manifest, indent=1))
    print(json.dumps({"outputs": str(out), "timings_ms": manifest["timings_ms"]}))


def encoders(folder: Path, out: Path, manifest: dict) -> None:
    """Full-size CLIP-L, CLIP-G and T5-XXL on fixed token ids: the arrays SD3's encode_prompt takes."""
    from transformers import CLIPTextModelWithProjection, T5EncoderModel

    # "a red fox in the snow" in CLIP's BPE, then end-of-text and padding (CLIP-L pads with 49407, CLIP-G with "!" = 0).
    words = [49406, 320, 736, 3240, 530, 518, 2583, 49407]
    for name, pad in (("text_encoder", 49407), ("text_encoder_2", 0)):
        ids = torch.tensor([words + [pad] * (77 - len(words))])
        model = CLIPTextModelWithProjection.from_pretrained(folder / name, torch_dtype=torch.float32).cuda().eval()
        with torch.no_grad():
            result = model(ids.cuda(), output_hidden_states=True)
        save(out, manifest, f"{name}_input_ids", ids.float())
        save(out, manifest, f"{name}_penultimate", result.hidden_states[-2])
        save(out, manifest, f"{name}_text_embeds", result.text_embeds)
        del model, result
    ids = torch.tensor([[37, 1282, 3, 2, 1] + [0] * 251])
    model = T5EncoderModel.from_pretrained(folder / "text_encoder_3", torch_dtype=torch.float32).cuda().eval()
    with torch.no_grad():
        hidden = model(ids.cuda())[0]
        manifest["timings_ms"]["torch_fp32_t5"] = cuda_time_ms(lambda: model(ids.cuda()))
    save(out, manifest, "text_encoder_3_input_ids", ids.float())
    save(out, manifest, "text_encoder_3_last_hidden_state", hidden)
    del model
    torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make")
    p.add_argument("--model", choices=sorted(TRANSFORMERS), required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--encoders", choices=["full", "none"], default="full")
    p.add_argument("--clip-vocab", default=os.environ.get("CLIP_VOCAB", ""))
    p.add_argument("--t5-tokenizer", default=os.environ.get("T5_TOKENIZER", ""))
    p.set_defaults(run=make)
    p = sub.add_parser("outputs")
    p.add_argument("--folder", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--sizes", default="512,1024")
    p.set_defaults(run=outputs)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
