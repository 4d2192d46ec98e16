"""Flowfill's autoencoder: 8x down-sampling, 16 latent channels (SD3's latent layout), no normalisation.

The graph contract is SD3's AutoencoderKL (diffusers): the decoder maps raw latents z (the engine
applies z/scaling_factor + shift_factor first) to RGB in ~[-1, 1], the encoder maps RGB to the
posterior mean (and log-variance for training); the config keeps AutoencoderKL's keys
(block_out_channels gives the 8x factor, latent_channels, scaling_factor, shift_factor).

The inside differs from diffusers' AutoencoderKL on purpose (model/README.md, "Diagnosis"):
- No GroupNorm. Per-image normalisation lets a network pass global information through a few
  extreme activations (the "droplet" artefact StyleGAN2 traced to instance normalisation,
  Karras et al. 2020, section 2). v1's VAE did exactly that on flat colour fields: its encoder wrote
  a spike into the bottom-left latent position and its decoder drew a small glyph there, on every
  image, including plain backgrounds. Residual blocks here are conv-SiLU-conv with the second
  convolution zero-initialised (each block starts as the identity), which trains stably without
  normalisation.
- Resolution changes by 2x2 space-to-depth / depth-to-space around 1x1 convolutions (exact
  reshapes, no overlap, so no checkerboard), which costs a ninth of a 3x3 convolution at the high
  resolution. Most of the width sits at the latent resolution, where the decoder decides what to
  draw; the full-resolution stage only renders edges.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

VAE_CONFIG = {
    "_class_name": "AutoencoderKL",
    "_diffusers_version": "0.31.0",
    "_flowfill_architecture": "norm-free residual autoencoder (model/flowfill/vae.py); graph I/O as diffusers AutoencoderKL",
    "act_fn": "silu",
    # Channels at 1x, 1/2, 1/4, 1/8 of the image size (four levels -> vae_scale_factor 8).
    "block_out_channels": [32, 64, 128, 192],
    "encoder_layers_per_block": [1, 1, 1, 2],
    "decoder_layers_per_block": [1, 1, 1, 3],
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 16,
    "norm_num_groups": None,
    "sample_size": 512,
    "scaling_factor": 1.0,
    "shift_factor": 0.0,
    "latents_mean": None,
    "latents_std": None,
    "force_upcast": False,
    "use_quant_conv": False,
    "use_post_quant_conv": False,
    "mid_block_add_attention": False,
}


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x):
        return x + self.conv2(F.silu(self.conv1(F.silu(x))))


class Down(nn.Module):
    """2x2 space-to-depth, then a 1x1 convolution to the next width."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(4 * cin, cout, 1)

    def forward(self, x):
        return self.conv(F.pixel_unshuffle(x, 2))


class Up(nn.Module):
    """1x1 convolution to 4x the next width, then 2x2 depth-to-space (sub-pixel convolution)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv = nn.Conv2d(cin, 4 * cout, 1)

    def forward(self, x):
        return F.pixel_shuffle(self.conv(x), 2)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, layers = cfg["block_out_channels"], cfg["encoder_layers_per_block"]
        self.conv_in = nn.Conv2d(cfg["in_channels"], ch[0], 3, padding=1)
        self.stages = nn.ModuleList([nn.Sequential(*[ResBlock(ch[i]) for _ in range(layers[i])]) for i in range(len(ch))])
        self.downs = nn.ModuleList([Down(ch[i], ch[i + 1]) for i in range(len(ch) - 1)])
        self.conv_out = nn.Conv2d(ch[-1], 2 * cfg["latent_channels"], 3, padding=1)

    def forward(self, x):
        x = self.conv_in(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.downs):
                x = self.downs[i](x)
        return self.conv_out(F.silu(x))


def decoder_channels(cfg: dict) -> list[int]:
    """The decoder's widths, full resolution first. A decoder may be wider than its encoder (flowfill.decoder_tune
    --widen): the latents are the contract between them."""
    return list(cfg.get("decoder_block_out_channels") or cfg["block_out_channels"])


class Decoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        ch, layers = decoder_channels(cfg), cfg["decoder_layers_per_block"]
        if len(ch) != len(cfg["block_out_channels"]):
            raise ValueError(f"decoder_block_out_channels {ch}: as many levels as block_out_channels expected")
        rev, rev_layers = list(reversed(ch)), list(reversed(layers))
        self.conv_in = nn.Conv2d(cfg["latent_channels"], rev[0], 3, padding=1)
        self.stages = nn.ModuleList([nn.Sequential(*[ResBlock(rev[i]) for _ in range(rev_layers[i])]) for i in range(len(rev))])
        self.ups = nn.ModuleList([Up(rev[i], rev[i + 1]) for i in range(len(rev) - 1)])
        self.conv_out = nn.Conv2d(ch[0], cfg["out_channels"], 3, padding=1)

    def forward(self, z):
        x = self.conv_in(z)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.ups):
                x = self.ups[i](x)
        return self.conv_out(F.silu(x))


class AutoencoderKL(nn.Module):
    def __init__(self, config: dict | None = None):
        super().__init__()
        self.config = dict(config or VAE_CONFIG)
        if len(self.config["block_out_channels"]) != 4:
            raise ValueError(f"block_out_channels {self.config['block_out_channels']}: four levels (8x) expected, as SD3")
        self.encoder = Encoder(self.config)
        self.decoder = Decoder(self.config)

    def encode_moments(self, x):
        """(mean, logvar) of the diagonal Gaussian posterior; logvar clamped as diffusers does."""
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(-30.0, 20.0)

    def decode(self, z):
        return self.decoder(z)


class VaeEncoderExport(nn.Module):
    """sample [B,3,H,W] in [-1,1] -> latent_sample = posterior mean (raw, unscaled)."""

    def __init__(self, vae: AutoencoderKL):
        super().__init__()
        self.encoder = vae.encoder
        self.latent_channels = vae.config["latent_channels"]

    def forward(self, sample):
        return self.encoder(sample)[:, : self.latent_channels]


class VaeDecoderExport(nn.Module):
    """latent_sample (raw: z/scaling_factor + shift_factor already applied by the engine) -> sample in ~[-1,1]."""

    def __init__(self, vae: AutoencoderKL):
        super().__init__()
        self.decoder = vae.decoder

    def forward(self, latent_sample):
        return self.decoder(latent_sample)
