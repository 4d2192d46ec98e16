"""flowfill.crispness.blur_effect: 0 for sharp towards 1 for blurred, rising with blur, and equal to scikit-image's
measure.blur_effect (the implementation it follows) where scikit-image is installed."""
import numpy as np
import pytest
from scipy import ndimage

from flowfill.crispness import blur_effect


def _icon(size: int = 128) -> np.ndarray:
    """A flat orange disc and a dark bar on a white background, hard-edged, [3,H,W] in [0, 1]."""
    y, x = np.mgrid[:size, :size]
    image = np.ones((3, size, size))
    disc = (y - size / 2) ** 2 + (x - size / 2.5) ** 2 < (size / 4) ** 2
    image[:, disc] = np.array([0.95, 0.55, 0.1])[:, None]
    image[:, size // 8: size // 8 + 6, size // 2: size - 8] = 0.1
    return image


def test_blur_raises_the_score_step_by_step():
    icon = _icon()
    scores = [blur_effect(ndimage.gaussian_filter(icon, sigma=(0, s, s))) for s in (0.0, 0.7, 1.5, 3.0)]
    assert scores[0] < 0.3
    assert all(a < b for a, b in zip(scores, scores[1:])), scores


def test_an_image_with_no_edges_reads_as_blurred_and_speckle_as_sharp():
    flat = np.full((3, 64, 64), 0.4)
    assert blur_effect(flat) == pytest.approx(1.0)
    speckled = flat + np.random.default_rng(0).normal(0, 0.05, flat.shape)
    assert blur_effect(speckled) < blur_effect(ndimage.gaussian_filter(_icon(64), sigma=(0, 1.5, 1.5)))


def test_equals_scikit_image():
    skimage_measure = pytest.importorskip("skimage.measure")
    rng = np.random.default_rng(1)
    for image in (_icon(), ndimage.gaussian_filter(_icon(96), sigma=(0, 1.2, 1.2)), rng.random((3, 40, 72))):
        ours = blur_effect(image)
        theirs = skimage_measure.blur_effect(np.moveaxis(image, 0, -1), channel_axis=-1)
        assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)
