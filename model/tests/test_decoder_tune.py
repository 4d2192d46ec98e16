"""flowfill.decoder_tune: the decoder trains on with the encoder frozen (so every latent stays as it was), and ends
on the int8 values the package holds; the round trip reports PSNR and both sides' blur effect."""
import torch

from flowfill.decoder_tune import round_trip, tune_decoder
from flowfill.run import SMOKE
from flowfill.train import snap_to_int8
from flowfill.vae import AutoencoderKL


def test_only_the_decoder_moves_and_it_ends_on_int8_values(data):
    torch.manual_seed(0)
    vae = AutoencoderKL(SMOKE["vae"])
    snap_to_int8(vae)
    encoder = {k: v.clone() for k, v in vae.encoder.state_dict().items()}
    decoder = {k: v.clone() for k, v in vae.decoder.state_dict().items()}
    run = tune_decoder(vae, data, seconds=60, edge=2.0, batch=2, crop=32, lr=1e-2, max_steps=3, log=lambda *a: None)
    assert run["steps"] == 3 and run["edge_weight"] == 2.0 and run["int8_tensors"] > 0
    assert all(torch.equal(v, vae.encoder.state_dict()[k]) for k, v in encoder.items())
    assert any(not torch.equal(v, vae.decoder.state_dict()[k]) for k, v in decoder.items())
    after = {k: v.clone() for k, v in vae.decoder.state_dict().items()}
    snap_to_int8(vae.decoder)  # already on the int8 grid: snapping again changes nothing
    assert all(torch.equal(v, vae.decoder.state_dict()[k]) for k, v in after.items())
    assert not any(p.requires_grad for p in vae.parameters())


def test_round_trip_reports_psnr_and_both_blur_effects(data):
    torch.manual_seed(0)
    vae = AutoencoderKL(SMOKE["vae"]).eval()
    data.eval_sets["tiny"] = data.eval_sets["icons"][:3]
    try:
        r = round_trip(vae, data, "tiny", size=64, batch=2)
    finally:
        del data.eval_sets["tiny"]
    assert r["n"] == 3 and 0 < r["psnr"] < 100
    assert 0 < r["blur_renders"] <= 1 and 0 < r["blur_round_trip"] <= 1
