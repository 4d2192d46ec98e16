import collections

import torch

from flowfill.checkpoint import save_parts
from flowfill.slim_checkpoint import from_torch_zip, rebuild, write_slim


def _state():
    ema = collections.OrderedDict(
        [("big.weight", torch.randn(96, 64)), ("pos_embed.pos_embed", torch.randn(1, 64, 8)), ("norm.bias", torch.randn(8))])
    ema._metadata = {"": {"version": 1}}
    conv = torch.randn(8, 3, 3, 3).to(memory_format=torch.channels_last)  # a strided storage, as the classifier's
    return {
        "dit": {k: v.to(torch.bfloat16) for k, v in ema.items()},
        "dit_ema": ema,
        "vae": {"w": torch.randn(5, 7)},
        "classifier": {"conv": conv.to(torch.bfloat16), "n": torch.tensor(7)},
        "dit_steps": 12, "dit_loss_history": [[250, 0.5, 1.0]],
    }


def _check(back, state):
    assert back["dit_steps"] == 12 and back["dit_loss_history"] == [[250, 0.5, 1.0]]
    assert torch.equal(back["vae"]["w"], state["vae"]["w"])
    assert torch.equal(back["classifier"]["conv"], state["classifier"]["conv"]) and back["classifier"]["conv"].dtype == torch.bfloat16
    assert back["classifier"]["n"].item() == 7 and back["classifier"]["n"].shape == ()
    ema = back["dit_ema"]
    assert isinstance(ema, collections.OrderedDict) and ema._metadata == {"": {"version": 1}}
    assert all(v.dtype == torch.float32 for v in ema.values())
    assert torch.equal(ema["pos_embed.pos_embed"], state["dit_ema"]["pos_embed.pos_embed"])  # small/pos-embed: exact
    torch.testing.assert_close(ema["big.weight"], state["dit_ema"]["big.weight"], rtol=1e-3, atol=1e-4)  # fp16
    # Raw weights restart from the EMA, in bf16 as the trainer stores them.
    assert set(back["dit"]) == set(ema) and all(v.dtype == torch.bfloat16 for v in back["dit"].values())
    assert torch.equal(back["dit"]["norm.bias"], ema["norm.bias"].to(torch.bfloat16))


def test_slim_roundtrip_from_state(tmp_path):
    state = _state()
    write_slim(state, tmp_path / "slim")
    _check(rebuild(tmp_path / "slim"), state)


def test_slim_from_torch_zip_without_torch_reader(tmp_path):
    state = _state()
    parts = save_parts(state, tmp_path / "ck")
    from_torch_zip(b"".join(p.read_bytes() for p in parts), tmp_path / "slim")
    _check(rebuild(tmp_path / "slim"), state)
