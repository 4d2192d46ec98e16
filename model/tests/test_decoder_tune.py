"""flowfill.decoder_tune: the decoder trains on with the encoder frozen (so every latent stays as it was), and ends
on the int8 values the package holds; the round trip reports PSNR and both sides' blur effect."""
import pytest
import torch

from flowfill.decoder_tune import load_decoder, round_trip, save_decoder, tune_decoder, widened
from flowfill.run import SMOKE
from flowfill.train import snap_to_int8
from flowfill.vae import AutoencoderKL, decoder_channels


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


def test_a_widened_decoder_starts_as_the_decoder_it_was_and_its_new_channels_learn(data, tmp_path):
    torch.manual_seed(0)
    vae = AutoencoderKL(SMOKE["vae"]).eval()
    for m in vae.decoder.modules():  # a trained decoder: no zero second convolutions left
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, std=0.05)
    wide = widened(vae, channels=12, blocks=2)
    assert decoder_channels(wide.config) == [12, 16, 16, 32] and wide.config["decoder_layers_per_block"][0] == 2
    assert vae.config.get("decoder_block_out_channels") is None  # the source is untouched
    z = torch.randn(2, 16, 5, 7)
    assert torch.allclose(wide.decode(z), vae.decode(z), atol=1e-6)
    assert all(torch.equal(v, wide.encoder.state_dict()[k]) for k, v in vae.encoder.state_dict().items())
    with pytest.raises(ValueError, match="can only grow"):
        widened(vae, channels=4, blocks=1)
    tune_decoder(wide, data, seconds=60, batch=2, crop=32, lr=1e-2, max_steps=3, log=lambda *a: None)
    assert wide.decoder.conv_out.weight[:, 8:].abs().sum() > 0  # the new channels now reach the image

    save_decoder(tmp_path / "decoder.pt", wide, {"steps": 3})
    back = load_decoder(tmp_path / "decoder.pt", vae)
    assert all(torch.equal(v, back.decoder.state_dict()[k]) for k, v in wide.decoder.state_dict().items())
    saved = torch.load(tmp_path / "decoder.pt", weights_only=True)["decoder"]
    assert isinstance(saved["conv_in.weight"], dict) and not isinstance(saved["conv_in.bias"], dict)  # int8 codes, exactly
    other = AutoencoderKL(dict(SMOKE["vae"], block_out_channels=[8, 16, 32, 32]))
    with pytest.raises(ValueError, match="another encoder"):
        load_decoder(tmp_path / "decoder.pt", other)
