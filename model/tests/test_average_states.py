"""Checkpoint averaging: the mean of two exported smoke states, written as a state that resumes, and the refusals
(another architecture, another VAE)."""
import json

import pytest
import torch

from flowfill import resume
from flowfill.average_states import average_modules, average_states
from flowfill.export import export_package
from flowfill.run import SMOKE
from flowfill.train import build_models, snap_to_int8
from flowfill.vae import AutoencoderKL

STATS = {"shift_factor": 0.1, "scaling_factor": 1.3, "latent_rgb_factors": [[0.1, 0.2, 0.3]] * 16, "latent_rgb_bias": [0.0, 0.0, 0.0]}


def test_weighted_mean_of_parameters_with_integer_buffers_copied():
    torch.manual_seed(0)
    a, b = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    with torch.no_grad():
        a.weight.fill_(1.0), b.weight.fill_(5.0)
    a.num_batches_tracked.fill_(7), b.num_batches_tracked.fill_(9)
    mean = average_modules([a, b], [3, 1])
    torch.testing.assert_close(mean.weight, torch.full((3,), 2.0))
    assert int(mean.num_batches_tracked) == 7
    assert float(a.weight.detach()[0]) == 1.0  # the inputs are left as they were


def test_refuses_other_architectures_and_bad_weights():
    with pytest.raises(ValueError, match="architecture"):
        average_modules([torch.nn.Linear(3, 4), torch.nn.Linear(3, 5)], [1, 1])
    with pytest.raises(ValueError, match="weights"):
        average_modules([torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)], [1, -1])
    with pytest.raises(ValueError, match="2 modules and 1 weights"):
        average_modules([torch.nn.Linear(3, 4), torch.nn.Linear(3, 4)], [1])


def smoke_state(data, data_dir, folder, seed, vae_seed=0, dit_steps=7):
    """An exported smoke state (package + extras) whose networks are seed's random weights, snapped to int8."""
    torch.manual_seed(vae_seed)
    vae = AutoencoderKL(SMOKE["vae"])
    with torch.no_grad():  # no zero biases: the exporter would fold them away, and the reader would miss them
        for p in vae.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    torch.manual_seed(seed)
    te, dit = build_models(len(data.tokenizer), "cpu", SMOKE["dit"], SMOKE["text"])
    with torch.no_grad():
        for m in (te, dit):
            for p in m.parameters():
                p.add_(torch.randn_like(p) * 0.05)
    for m in (te, dit, vae):
        m.eval().requires_grad_(False)
        snap_to_int8(m)
    export_package(folder / "package", tokenizer=data.tokenizer.encode, vae=vae, te=te, dit=dit, stats=STATS, max_sequence_length=8,
                   shift=3.0, guidance=2.0, steps=4 + seed, tokenizer_dir=data_dir, training_summary={"dit_steps": dit_steps},
                   licences=data.manifest["licences"], log=lambda *_: None)
    resume.save(folder, {"latent_stats": STATS, "dit_steps": dit_steps, "dit_seconds": 1.5}, data)
    return te, dit


def test_average_of_two_states_resumes_as_the_snapped_mean(data, data_dir, tmp_path):
    te_a, dit_a = smoke_state(data, data_dir, tmp_path / "a", seed=1, dit_steps=7)
    te_b, dit_b = smoke_state(data, data_dir, tmp_path / "b", seed=2, dit_steps=9)
    average_states(tmp_path / "mean", [str(tmp_path / "a"), str(tmp_path / "b")], data, log=lambda *_: None)

    state = resume.load(tmp_path / "mean", data, "cpu", log=lambda *_: None)
    for name, pair in (("dit", (dit_a, dit_b)), ("te", (te_a, te_b))):
        want = average_modules(list(pair), [1, 1])
        snap_to_int8(want)
        got = state[name].state_dict()
        for k, v in want.state_dict().items():
            torch.testing.assert_close(got[k], v, atol=1e-6, rtol=1e-6, msg=f"{name}.{k}")
    # The mean differs from both parents: it is not one of them passed through.
    k = next(k for k, v in dit_a.named_parameters() if v.numel() > 100)
    assert not torch.equal(state["dit"].state_dict()[k], dit_a.state_dict()[k])
    assert not torch.equal(state["dit"].state_dict()[k], dit_b.state_dict()[k])

    # The newest state (9 steps, b) gives the sampler; the sources are recorded in the extras and the package.
    info = json.loads((tmp_path / "mean" / "package" / "flowfill.json").read_text())
    assert info["recommended"]["steps"] == 6
    sources = info["training"]["averaged_from"]
    assert [(s["dit_steps"], s["weight"]) for s in sources] == [(7, 1.0), (9, 1.0)]
    assert state["averaged_from"] == sources and state["dit_steps"] == 9


def test_refuses_states_with_another_vae(data, data_dir, tmp_path):
    smoke_state(data, data_dir, tmp_path / "a", seed=1)
    smoke_state(data, data_dir, tmp_path / "b", seed=2, vae_seed=5)
    with pytest.raises(ValueError, match="VAE differs"):
        average_states(tmp_path / "mean", [str(tmp_path / "a"), str(tmp_path / "b")], data, log=lambda *_: None)
    assert not (tmp_path / "mean").exists()
