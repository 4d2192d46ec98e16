"""Independent evaluation classifier: subject (and style) from an image, trained only on clean
composites made by the data recipe, never on generated images."""
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import EmojiData, bucket_size

INPUT = 64


def central_square(images: torch.Tensor, size: int = INPUT) -> torch.Tensor:
    """The centred square of side min(H, W) (where the subject is placed), resized to size×size."""
    h, w = images.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return F.interpolate(images[..., top : top + s, left : left + s], size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class EmojiClassifier(nn.Module):
    def __init__(self, num_subjects: int, num_styles: int):
        super().__init__()

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

        self.features = nn.Sequential(block(3, 48), block(48, 96), block(96, 192), block(192, 256), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.subject = nn.Linear(256, num_subjects)
        self.style = nn.Linear(256, num_styles)

    def forward(self, x):
        f = self.features(x)
        return self.subject(f), self.style(f)


def _batch(data: EmojiData, n: int, gen, rng):
    aspect = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    h, w = bucket_size(aspect)
    # Held-out combinations are fine here: the classifier never sees captions, and it must
    # recognise subjects on every background.
    n_sub, n_sty, n_col = data.held_out.shape
    dev = data.device
    subject = torch.randint(n_sub, (n,), generator=gen, device=dev)
    style = torch.randint(n_sty, (n,), generator=gen, device=dev)
    colour = torch.randint(n_col, (n,), generator=gen, device=dev)
    grad = torch.rand(n, generator=gen, device=dev) < 0.3
    colour2 = torch.where(grad, torch.randint(n_col, (n,), generator=gen, device=dev), colour)
    images = data.compose(subject, style, colour, colour2, h, w, gen)
    return central_square(images), subject, style


def train_classifier(data: EmojiData, seconds: float, log=print, seed: int = 7):
    torch.manual_seed(seed)
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = EmojiClassifier(data.num_subjects, len(data.styles)).to(data.device).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    start, step = time.time(), 0
    while time.time() - start < seconds:
        x, ys, yst = _batch(data, 512, gen, rng)
        # Mild noise/blur so the classifier tolerates the softness of generated images.
        if step % 2 == 0:
            x = F.avg_pool2d(x, 3, 1, 1)
        x = x + 0.03 * torch.randn(x.shape, generator=gen, device=x.device)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            ls, lst = model(x)
            loss = F.cross_entropy(ls.float(), ys) + 0.3 * F.cross_entropy(lst.float(), yst)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            log(f"classifier step {step} loss {loss.item():.4f}")
    model.eval()
    acc = clean_accuracy(model, data)
    log(f"classifier: {step} steps in {time.time() - start:.0f}s, clean top-1 {acc['subject_top1']:.3f} style {acc['style']:.3f}")
    return model, {"steps": step, **acc}


@torch.no_grad()
def clean_accuracy(model, data: EmojiData, n: int = 2048):
    gen = torch.Generator(device=data.device).manual_seed(1234)
    rng = np.random.default_rng(1234)
    hits = hits_style = 0
    for _ in range(n // 512):
        x, ys, yst = _batch(data, 512, gen, rng)
        ls, lst = model(x)
        hits += (ls.argmax(1) == ys).sum().item()
        hits_style += (lst.argmax(1) == yst).sum().item()
    return {"subject_top1": hits / n, "style": hits_style / n}
