import sys
from pathlib import Path

import pytest

MODEL_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(MODEL_DIR))
DATA_DIR = MODEL_DIR / ".cache" / "data"


@pytest.fixture(scope="session")
def data_dir():
    if not (DATA_DIR / "manifest.json").exists():
        pytest.skip("dataset not built: run `node model/data/build-dataset.mjs` first")
    return DATA_DIR


@pytest.fixture(scope="session")
def device():
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


@pytest.fixture(scope="session")
def data(data_dir, device):
    """The dataset on the test device, loaded once (decompressing the atlases takes seconds)."""
    from flowfill.data import FlowfillData

    return FlowfillData(data_dir, device)


@pytest.fixture
def smoke_student(data):
    """What a DitTrainer needs to take real steps on the CPU: a smoke-size text encoder and MM-DiT, their EMA copies,
    and a bank of 128² stand-in latents (the renders subsampled to the latent grid, no VAE)."""
    import torch
    from flowfill.bank import LatentBank
    from flowfill.run import SMOKE
    from flowfill.train import build_models

    torch.manual_seed(0)
    te, dit = build_models(len(data.tokenizer), data.device, SMOKE["dit"], SMOKE["text"])
    te_ema, dit_ema = build_models(len(data.tokenizer), data.device, SMOKE["dit"], SMOKE["text"])
    channels = dit.config["in_channels"]
    bank = LatentBank(data, lambda x: x.repeat(1, channels, 1, 1)[:, :channels, ::8, ::8], natives=(128,), capacity=(64,))
    bank.fill(600, log=lambda *_: None)
    return te, dit, te_ema, dit_ema, bank
