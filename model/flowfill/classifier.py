"""Independent evaluation classifier: subject and style from an image, trained only on clean
composites made by the data recipe (all subjects, styles and colours, held-out combinations
included: it never sees captions), never on generated images. Its 256-d penultimate features are
also the space of the Fréchet distance between generated images and real renders (evaluate.py)."""
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .data import FlowfillData, bucket_size

INPUT = 64  # the input side of every judge trained before session 12; run.py --judge-input chooses a new one
# The style loss's weight beside the subject's. At 0.3 (through session 23) the 128² judge read 19 of 74 real
# glossy renders of v1_emoji as flat; trained on 300 s more at 1.0 (flowfill.rejudge, session 24) it reads every
# real render's style but 2 of 200 icons'. Which of the two (weight, time) did it was not separated.
STYLE_WEIGHT = 1.0


def central_square(images: torch.Tensor, size: int = INPUT) -> torch.Tensor:
    """The centred square of side min(H, W) (where the subject is placed), resized to size×size."""
    h, w = images.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return F.interpolate(images[..., top : top + s, left : left + s], size=(size, size), mode="bilinear", antialias=True, align_corners=False)


class FlowfillClassifier(nn.Module):
    def __init__(self, num_subjects: int, num_styles: int, width: int = 64, input_size: int = INPUT):
        super().__init__()
        self.input_size = input_size

        def block(cin, cout):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(),
                                 nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(), nn.MaxPool2d(2))

        w = width
        self.features = nn.Sequential(block(3, w), block(w, 2 * w), block(2 * w, 4 * w), block(4 * w, 4 * w),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.num_features = 4 * w
        self.subject = nn.Linear(4 * w, num_subjects)
        self.style = nn.Linear(4 * w, num_styles)
        self.config = {"num_subjects": num_subjects, "num_styles": num_styles, "width": width, "input_size": input_size}

    def crop(self, images: torch.Tensor) -> torch.Tensor:
        """What this judge reads of an image: its centred square at the judge's input side."""
        return central_square(images, self.input_size)

    def forward(self, x):
        f = self.features(x)
        return self.subject(f), self.style(f)

    def embed(self, x):
        return self.features(x)


def clean_batch(data: FlowfillData, n: int, gen, rng, native: int = 256, input_size: int = INPUT):
    aspect = float(np.exp(rng.uniform(np.log(0.25), np.log(4.0))))
    h, w = bucket_size(aspect, native)
    cond = data.draw_conditions(n, gen, exclude_held_out=False)
    images = data.compose(cond, h, w, gen)
    return central_square(images, input_size), cond.subject, cond.style


def _autocast(device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if torch.device(device).type == "cuda" else torch.autocast("cpu", enabled=False)


def train_classifier(data: FlowfillData, seconds: float, log=print, seed: int = 7, batch: int = 512, width: int = 64, eval_n: int = 4096,
                     input_size: int = INPUT, style_weight: float = STYLE_WEIGHT, init: FlowfillClassifier | None = None):
    """A judge trained for `seconds` on clean composites: from scratch, or on from `init`'s weights (a judge of
    the same shape, left unchanged) when a state's judge is trained further at another recipe."""
    torch.manual_seed(seed)
    gen = torch.Generator(device=data.device).manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = FlowfillClassifier(data.num_subjects, len(data.styles), width, input_size).to(data.device).to(memory_format=torch.channels_last)
    if init is not None:
        if init.config != model.config:
            raise ValueError(f"a judge of shape {init.config} cannot start a judge of shape {model.config}")
        model.load_state_dict(init.state_dict())
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    start, step = time.time(), 0
    while time.time() - start < seconds:
        frac = (time.time() - start) / seconds
        for g in opt.param_groups:
            g["lr"] = 2e-3 * min(1.0, (step + 1) / 100) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * frac)))
        x, ys, yst = clean_batch(data, batch, gen, rng, native=256 if step % 4 else 512, input_size=input_size)
        # Mild blur and noise so the classifier tolerates the softness of generated images.
        if step % 2 == 0:
            x = F.avg_pool2d(x, 3, 1, 1)
        x = x + 0.03 * torch.randn(x.shape, generator=gen, device=x.device)
        with _autocast(data.device):
            ls, lst = model(x)
            loss = F.cross_entropy(ls.float(), ys) + style_weight * F.cross_entropy(lst.float(), yst)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            log(f"classifier step {step} loss {loss.item():.4f}")
    model.eval()
    acc = clean_accuracy(model, data, n=eval_n, batch=min(512, eval_n))
    log(f"classifier ({input_size}² input): {step} steps in {time.time() - start:.0f}s, clean renders: subject top-1 {acc['subject_top1']:.3f} "
        f"(emoji {acc['emoji_top1']:.3f}, icons {acc['icon_top1']:.3f}), style {acc['style']:.3f}")
    return model, {"steps": step, "seconds": round(time.time() - start, 1), "input_size": input_size, "style_weight": style_weight,
                   "trained_on_from_earlier_judge": init is not None, **acc}


@torch.no_grad()
def clean_accuracy(model, data: FlowfillData, n: int = 4096, batch: int = 512):
    gen = torch.Generator(device=data.device).manual_seed(1234)
    rng = np.random.default_rng(1234)
    hits, hits_style, kinds = [], [], []
    for _ in range(max(1, n // batch)):
        x, ys, yst = clean_batch(data, batch, gen, rng, input_size=model.input_size)
        ls, lst = model(x)
        hits.append(ls.argmax(1) == ys)
        hits_style.append(lst.argmax(1) == yst)
        kinds.append(data.is_icon[ys])
    hits, hits_style, kinds = torch.cat(hits).float(), torch.cat(hits_style).float(), torch.cat(kinds)
    mean = lambda t: float(t.mean()) if t.numel() else float("nan")  # noqa: E731
    return {"subject_top1": mean(hits), "emoji_top1": mean(hits[~kinds]), "icon_top1": mean(hits[kinds]), "style": mean(hits_style)}
