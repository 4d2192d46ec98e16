"""The evaluation's layout check (evaluate.layout_check, per image by evaluate.layout_results): one subject, whole and
centred on its background, on drawn test images whose answer is known."""
import torch

from flowfill.evaluate import blur_results, layout_results


def canvas(h, w, boxes, background=(0.2, 0.4, 0.8), ink=(1.0, 1.0, 1.0)):
    """An image in [-1, 1] of `boxes` (top, left, bottom, right) in `ink` on `background`, and its border colour in [0, 1]."""
    x = torch.tensor(background).view(3, 1, 1).repeat(1, h, w)
    for top, left, bottom, right in boxes:
        x[:, top:bottom, left:right] = torch.tensor(ink).view(3, 1, 1)
    return x * 2 - 1, torch.tensor(background)


def test_one_centred_subject_passes_at_any_shape():
    for h, w in ((64, 64), (48, 192), (192, 48)):
        image, border = canvas(h, w, [(h // 4, w // 4, 3 * h // 4, 3 * w // 4)])
        assert layout_results(image[None], border[None]) == {"whole_centred_single": [1.0], "single": [1.0]}, (h, w)


def test_cut_off_off_centre_split_and_empty_images_fail_as_each_is_wrong():
    cases = {
        "cut off by the edge": ([(16, 0, 48, 32)], 0.0, 1.0),
        "whole but off centre": ([(4, 4, 20, 20)], 0.0, 1.0),
        "two subjects": ([(8, 8, 28, 28), (36, 36, 56, 56)], 0.0, 0.0),
        "nothing drawn": ([], 0.0, 0.0),
        "a speck under 1.5 % of the image": ([(30, 30, 36, 36)], 0.0, 0.0),
    }
    for name, (boxes, whole_centred_single, single) in cases.items():
        image, border = canvas(64, 64, boxes)
        got = layout_results(image[None], border[None])
        assert got == {"whole_centred_single": [whole_centred_single], "single": [single]}, name


def test_results_come_image_by_image():
    images, borders = zip(canvas(64, 64, [(16, 16, 48, 48)]), canvas(64, 64, []), canvas(64, 64, [(16, 16, 48, 48)]))
    got = layout_results(torch.stack(images), torch.stack(borders))
    assert got == {"whole_centred_single": [1.0, 0.0, 1.0], "single": [1.0, 0.0, 1.0]}
    # The blur effect too, image by image: a hard-edged box reads sharp, an empty canvas (no edges) reads 1.
    sharp, empty, again = blur_results(torch.stack(images))["blur_effect"]
    assert sharp == again < 0.5 and empty == 1.0


def test_the_datas_own_renders_set_the_checks_ceiling(data):
    """real_layout: the check on renders whole and centred by construction. The emoji pass it at every shape; icons
    drawn in separate parts, and thin outlines boxed into a 4:1 frame's short side, fail it drawn whole (session 41),
    so an icon check's rate reads against this ceiling, not against 1."""
    from flowfill.evaluate import real_layout, real_render_set
    from flowfill.vocabulary import check_prompts

    emoji, thin = check_prompts(data.manifest, "v1_emoji", limit=40), check_prompts(data.manifest, "icons", "thin")
    for aspect in (0.25, 1.0, 4.0):
        assert real_layout(real_render_set(data, emoji, 256, [0], aspect))["whole_centred_single"] >= 0.9, aspect
    square, wide = (real_layout(real_render_set(data, thin, 512, [0], aspect))["whole_centred_single"] for aspect in (1.0, 4.0))
    assert wide < 0.5 < square
