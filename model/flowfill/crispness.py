"""How soft an image's edges are: the blur effect of Crété-Roffet, Dolmière, Ladret and Nicolas (2007, "The blur
effect: perception and estimation with a new no-reference perceptual blur metric"), 0 for a sharp image and towards 1
for a blurred one, computed as scikit-image's `measure.blur_effect` computes it (the GPU machine has no scikit-image;
tests/test_crispness.py holds the two equal where it is installed).

The idea: blur the image again (an 11-pixel box along one axis) and see how much of its variation along that axis the
blur takes away. A sharp edge loses most of its gradient; an edge already soft loses little. The score is the worse
of the two axes. What it cannot tell apart: speckle inside a flat field is variation the re-blur removes too, so it
reads as sharpness, and an image with no edges at all reads 1. So a model's score means something beside the data's
own renders of the same prompts (sampler_check reports both), not alone.
"""
import numpy as np
from scipy import ndimage

# ITU-R BT.709 luma, as scikit-image's rgb2gray weighs the channels.
GRAY = np.array([0.2125, 0.7154, 0.0721])
REBLUR = 11  # scikit-image's default h_size: discriminates blur up to about an 11-pixel box
_EPSILON = np.spacing(np.float64(1))


def blur_effect(image01: np.ndarray, h_size: int = REBLUR) -> float:
    """image01 [3,H,W] (RGB in [0, 1]) or [H,W] (grey): 0 sharp … 1 blurred."""
    grey = np.tensordot(GRAY, image01, axes=1) if image01.ndim == 3 else image01
    grey = grey.astype(np.float64)
    inner = tuple(slice(2, s - 1) for s in grey.shape)  # scikit-image's crop of the Sobel filter's reflected border
    per_axis = []
    for axis in range(grey.ndim):
        sharp = np.maximum(_EPSILON, np.abs(ndimage.sobel(grey, axis=axis, mode="reflect")))
        reblurred = ndimage.uniform_filter1d(grey, h_size, axis=axis)
        blurred = np.maximum(_EPSILON, np.abs(ndimage.sobel(reblurred, axis=axis, mode="reflect")))
        total = sharp[inner].sum()
        kept = np.maximum(0.0, sharp - blurred)[inner].sum()
        per_axis.append(abs(total - kept) / total)
    return float(max(per_axis))
