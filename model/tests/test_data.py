import numpy as np
import torch

from flowfill.data import EmojiData


def test_training_batches_never_contain_held_out_combinations(data_dir, device):
    data = EmojiData(data_dir, device)
    gen = torch.Generator(device=device).manual_seed(0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        b = data.sample(512, 176, 368, gen, rng)
        assert not data.held_out[b.subject, b.style, b.colour].any()
        assert not data.held_out[b.subject, b.style, b.colour2].any()
        assert b.images.shape == (512, 3, 176, 368)
        assert b.images.min() >= -1 and b.images.max() <= 1


def test_captions_name_subject_style_and_background(data_dir, device):
    data = EmojiData(data_dir, device)
    rng = np.random.default_rng(0)
    text = data.caption(3, 1, 5, 5, rng, full=True)
    assert text == f"{data.subjects[3]['label']}, {data.styles[1]} style, on a {data.colour_names[5]} background"
    grad = data.caption(3, 1, 5, 7, rng, full=True)
    assert f"{data.colour_names[5]} to {data.colour_names[7]} gradient" in grad


def test_border_of_a_composite_is_the_background_colour(data_dir, device):
    data = EmojiData(data_dir, device)
    s = torch.tensor([0, 1], device=device)
    c = torch.tensor([5, 9], device=device)
    img = data.compose(s, torch.tensor([0, 2], device=device), c, c, 256, 256, jitter=False)
    border = (img[:, :, 0, :].mean(-1) + 1) / 2
    torch.testing.assert_close(border, data.colours[c], atol=1e-3, rtol=0)
