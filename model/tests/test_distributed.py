"""Data-parallel training: two gloo processes on the CPU take the same steps as one process on both
halves of the batch, and stay identical."""
import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from flowfill.distributed import GradientExchange, Ranks

STEPS = 6


def _net():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3))


def _batch(step: int, part: int):
    g = torch.Generator().manual_seed(100 * step + part)
    return torch.randn(4, 8, generator=g), torch.randn(4, 3, generator=g)


def _train(net, ranks: Ranks, parts):
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    exchange = GradientExchange(ranks, net.parameters(), "cpu")
    controls = []
    for step in range(STEPS):
        loss = sum(torch.nn.functional.mse_loss(net(x), y) for x, y in (_batch(step, p) for p in parts)) / len(parts)
        opt.zero_grad()
        loss.backward()
        # rank 0 asks to stop at step 3; every rank must see it one step late, at step 4
        controls.append(exchange.exchange(step == 3, float(step)))
        opt.step()
    return controls


def _worker(rank: int, port: int, out):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        net = _net()
        controls = _train(net, Ranks(rank, 2), [rank])
        out[rank] = ([p.detach().clone() for p in net.parameters()], controls)
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo is not available")
def test_two_ranks_match_one_process_on_the_whole_batch():
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_worker, args=(_free_port(), out), nprocs=2, join=True)
        (p0, c0), (p1, c1) = out[0], out[1]
    single = _net()
    _train(single, Ranks(), [0, 1])
    for a, b, s in zip(p0, p1, single.parameters()):
        assert torch.equal(a, b), "ranks diverged"
        torch.testing.assert_close(a, s.detach(), rtol=1e-5, atol=1e-6)
    assert c0 == c1
    assert [stop for stop, _ in c0] == [False, False, False, False, True, False]
    assert [clock for _, clock in c0] == [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]
