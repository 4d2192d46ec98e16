"""Data-parallel DiT training over the GPUs of one host (torch.distributed.run, one process a GPU).

Only the text encoder + MM-DiT stage runs on every rank; rank 0 alone trains the VAE, evaluates and
exports, and another rank trains the evaluation classifier meanwhile. The ranks exchange one flat
buffer per step: the summed gradients plus two control values, rank 0's "stop now" and its elapsed
seconds, so every rank takes the same number of steps with the same learning rate without clocks
that agree. Each rank draws its own buckets (shapes may differ per rank: only gradients cross).
"""
import copy
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Ranks:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def parallel(self) -> bool:
        return self.world > 1

    @property
    def classifier_rank(self) -> int:
        """The rank that trains the evaluation classifier while rank 0 trains the VAE."""
        return 1 if self.world > 1 else 0


def init(device_arg: str) -> tuple[Ranks, torch.device]:
    """Joins the process group when started by torch.distributed.run (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Ranks(), torch.device(device_arg)
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", os.environ["RANK"]))
    if torch.cuda.is_available() and device_arg.startswith("cuda"):
        torch.cuda.set_device(local)
        device, backend = torch.device("cuda", local), "nccl"
    else:
        device, backend = torch.device("cpu"), "gloo"
    # A rank that dies must not leave the others waiting past the slice: collectives time out.
    import datetime

    dist.init_process_group(backend, timeout=datetime.timedelta(seconds=float(os.environ.get("FLOWFILL_DIST_TIMEOUT_S", "900"))))
    return Ranks(rank, world), device


def barrier(ranks: Ranks, device: torch.device):
    if ranks.parallel:
        dist.barrier(device_ids=[device.index] if device.type == "cuda" else None)


def broadcast_params(ranks: Ranks, modules):
    """Rank 0's parameters and buffers to every rank (identical starts)."""
    if not ranks.parallel:
        return
    with torch.no_grad():
        for m in modules:
            for t in list(m.parameters()) + list(m.buffers()):
                dist.broadcast(t.data, 0)


def broadcast_object(ranks: Ranks, value, src: int, device: torch.device):
    """Rank src's picklable value on every rank (the value itself where there is one process)."""
    if not ranks.parallel:
        return value
    payload = [value if ranks.rank == src else None]
    dist.broadcast_object_list(payload, src=src, device=device if device.type == "cuda" else None)
    return payload[0]


def share(ranks: Ranks, state: dict, keys, src: int, device: torch.device):
    """state[k] for k in keys, from rank src to every rank (modules travel through the CPU)."""
    if not ranks.parallel:
        return
    mine = {k: (copy.deepcopy(state[k]).cpu() if isinstance(state[k], torch.nn.Module) else state[k]) for k in keys} if ranks.rank == src else None
    shared = broadcast_object(ranks, mine, src, device)
    if ranks.rank != src:
        for k, v in shared.items():
            state[k] = v.to(device) if isinstance(v, torch.nn.Module) else v


def finish(ranks: Ranks):
    if ranks.parallel and dist.is_initialized():
        dist.destroy_process_group()


class GradientExchange:
    """Averages gradients over the ranks in one all-reduce and carries rank 0's control values."""

    CONTROLS = 2  # stop flag, rank 0's elapsed seconds

    def __init__(self, ranks: Ranks, params, device):
        self.ranks, self.params = ranks, [p for p in params if p.requires_grad]
        n = sum(p.numel() for p in self.params)
        self.flat = torch.zeros(n + self.CONTROLS, dtype=torch.float32, device=device)
        # The control values are read one step late, so the CPU never waits for the step it just
        # queued: every rank sees the same late values, so the ranks still agree on every step.
        cuda = torch.device(device).type == "cuda"
        self.host = torch.zeros(self.CONTROLS, dtype=torch.float32, pin_memory=cuda)
        self.ready = torch.cuda.Event() if cuda else None
        self.pending = False

    def exchange(self, stop: bool, elapsed: float) -> tuple[bool, float]:
        """After backward: every rank's gradients become the mean over ranks. Returns the control
        values (stop, elapsed) every rank acts on: its own at once in a single process, rank 0's
        from the previous step in parallel."""
        if not self.ranks.parallel:
            return stop, elapsed
        late = (False, 0.0)
        if self.pending:
            if self.ready is not None:
                self.ready.synchronize()
            late = (bool(self.host[0] > 0.5), float(self.host[1]))
        flat, offset = self.flat, 0
        for p in self.params:
            k = p.numel()
            if p.grad is None:
                flat[offset: offset + k].zero_()
            else:
                flat[offset: offset + k].copy_(p.grad.reshape(-1))
            offset += k
        main = self.ranks.main
        flat[offset] = float(stop) if main else 0.0
        flat[offset + 1] = float(elapsed) if main else 0.0
        dist.all_reduce(flat)
        self.host.copy_(flat[offset:], non_blocking=self.ready is not None)
        if self.ready is not None:
            self.ready.record()
        self.pending = True
        offset = 0
        for p in self.params:
            k = p.numel()
            view = flat[offset: offset + k].view_as(p).div(self.ranks.world)
            if p.grad is None:
                p.grad = view.to(p.dtype)
            else:
                p.grad.copy_(view)
            offset += k
        return late
