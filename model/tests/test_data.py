import re

import numpy as np
import torch

from flowfill.data import bucket_size, write_samples


def test_training_conditions_never_contain_held_out_combinations(data, device):
    gen = torch.Generator(device=device).manual_seed(0)
    for _ in range(5):
        c = data.draw_conditions(2048, gen)
        icon = data.is_icon[c.subject]
        # Emoji: the background colours (also inside gradients); icons: the icon's own colour.
        assert not (~icon & data.held_out[c.subject, c.style, c.bg1]).any()
        assert not (~icon & data.held_out[c.subject, c.style, c.bg2]).any()
        assert not (icon & data.held_out[c.subject, c.style, c.colour.clamp(min=0)]).any()
        assert (c.colour[~icon] == -1).all() and (c.colour[icon] >= 0).all()
        # Icons are never drawn in a colour too close to their background.
        assert (data.contrast[c.colour[icon], c.bg1[icon]] & data.contrast[c.colour[icon], c.bg2[icon]]).all()
        # Every sprite belongs to the drawn subject and style.
        assert torch.equal(data.sprite_subject[c.sprite], c.subject) and torch.equal(data.sprite_style[c.sprite], c.style)


def test_both_kinds_and_all_styles_are_drawn(data, device):
    c = data.draw_conditions(4096, torch.Generator(device=device).manual_seed(1))
    share = data.is_icon[c.subject].float().mean().item()
    assert 0.45 < share < 0.55
    assert set(c.style.tolist()) == set(range(len(data.styles)))


def test_composites_have_the_requested_size_range_and_background(data, device):
    gen = torch.Generator(device=device).manual_seed(2)
    for aspect, native in ((0.25, 256), (1.0, 512), (4.0, 512)):
        h, w = bucket_size(aspect, native)
        c = data.draw_conditions(16, gen)
        img = data.compose(c, h, w, gen)
        assert img.shape == (16, 3, h, w) and img.min() >= -1 and img.max() <= 1
    # Solid backgrounds: the border is exactly the named colour.
    c = data.draw_conditions(8, gen)
    c.bg2 = c.bg1.clone()
    img = data.compose(c, 256, 256, gen, jitter=False)
    border = (img[:, :, 0, :].mean(-1) + 1) / 2
    torch.testing.assert_close(border, data.colours[c.bg1], atol=2e-3, rtol=0)


def test_icons_are_drawn_in_their_colour_with_sharp_edges(data, device):
    icons = [p for p in data.eval_sets["icons"][:8]]
    c = data.conditions_for(icons)
    img = (data.compose(c, 512, 512, jitter=False) + 1) / 2
    fg = data.colours[c.colour][:, :, None, None]
    bg = data.colours[c.bg1][:, :, None, None]
    # Each pixel is a mix of the icon colour and the background (alpha compositing) ...
    t = ((img - bg) * (fg - bg)).sum(1) / ((fg - bg) ** 2).sum(1)
    recon = bg + t[:, None] * (fg - bg)
    assert (img - recon).abs().max() < 2e-3
    # ... and at 512 px almost every pixel is fully one or the other: edges are about one pixel wide.
    edge = ((t > 0.05) & (t < 0.95)).float().mean(dim=(1, 2))
    ink = (t >= 0.95).float().mean(dim=(1, 2))
    assert (ink > 0.01).all() and (edge < 0.35 * ink + 0.01).all()


def test_emoji_atlases_decode_to_premultiplied_rgba(data, device):
    for name, atlas in zip(data.atlas_names, data.atlas):
        if atlas.shape[1] != 4:
            continue
        a = atlas[:64].int()
        assert (a[:, :3] <= a[:, 3:4]).all(), name  # premultiplied: no colour brighter than its alpha
        assert (a[:, 3] > 0).float().mean() > 0.2, name


def test_captions_name_subject_style_and_colours(data, device):
    rng = np.random.default_rng(0)
    emoji = next(s for s in data.subjects if s["kind"] == "emoji")
    icon = next(s for s in data.subjects if s["kind"] == "icon")
    text = data.caption(emoji["id"], 1, -1, 5, 5, rng, template=data.templates["emoji"][0], name_index=0)
    assert text == f"{emoji['label']}, {data.styles[1]} style, on a {data.colour_names[5]} background"
    grad = data.caption(emoji["id"], 1, -1, 5, 7, rng, template=data.templates["emoji"][0])
    assert f"{data.colour_names[5]} to {data.colour_names[7]} gradient" in grad
    line = data.styles.index("line")
    text = data.caption(icon["id"], line, 20, 14, 14, rng, template=data.templates["icon"][0], name_index=0)
    assert text == f"{icon['label']} icon, line style, {data.colour_names[20]} on {data.colour_names[14]}"
    # Random training captions always name the subject.
    for _ in range(50):
        text = data.caption(emoji["id"], 0, -1, 3, 3, rng)
        assert any(n in text for n in emoji["names"]), text


def test_training_captions_name_the_background_first_too_and_keep_the_held_out_wordings_unseen(data):
    """Background always last taught the candidate to bind colours by position (model/README.md)."""
    for kind in ("emoji", "icon"):
        train, held_out = data.templates[kind], data.templates[f"{kind}_heldout"]
        assert any(t.index("{background}") < t.index("{subject}") for t in train), kind
        assert any(t.index("{background}") > t.index("{subject}") for t in train), kind
        assert not set(train) & set(held_out), kind
    # Every template's words are in the vocabulary (a new word would change a resumed text encoder's table).
    for t in sum((data.templates[k] for k in data.templates), []):
        assert data.tokenizer.unk_id not in data.tokenizer.encode(re.sub(r"\{[a-z]+\}", " ", t)), t


def test_sample_composites_are_written(data, tmp_path):
    lines = write_samples(data, tmp_path, n=4)
    assert len(lines) == 4 and len(list(tmp_path.glob("*.png"))) == 4


def test_a_window_is_the_same_crop_of_the_full_composite(data, device):
    c = data.draw_conditions(6, torch.Generator(device=device).manual_seed(4))
    full = data.compose(c, 256, 512, torch.Generator(device=device).manual_seed(9))
    part = data.compose(c, 256, 512, torch.Generator(device=device).manual_seed(9), window=(64, 200, 128, 96))
    torch.testing.assert_close(part, full[..., 64:192, 200:296], atol=1e-5, rtol=0)
