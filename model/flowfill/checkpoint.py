"""Checkpoints split into parts of at most 15 MiB, because the GPU machine returns files of at most
16 MiB each; training resumes from whatever parts are found (model/runs/ckpt.part*)."""
import io
from pathlib import Path

import torch

PART_BYTES = 15 * 1024 * 1024


def save_parts(state: dict, directory: str | Path, stem: str = "ckpt", part_bytes: int = PART_BYTES) -> list[Path]:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob(f"{stem}.part*"):
        old.unlink()
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    paths = []
    for i in range(0, max(len(data), 1), part_bytes):
        p = directory / f"{stem}.part{i // part_bytes:02d}"
        p.write_bytes(data[i : i + part_bytes])
        paths.append(p)
    return paths


def load_parts(directory: str | Path, stem: str = "ckpt") -> dict | None:
    parts = sorted(Path(directory).glob(f"{stem}.part*"))
    if not parts:
        return None
    data = b"".join(p.read_bytes() for p in parts)
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
