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
