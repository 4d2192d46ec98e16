"""judge_ceiling: real renders scored as generated images are. The colour measures read pixels only,
so on the renders themselves they must be exact whatever the classifier knows; the classifier's
measures are only counted, not judged (an untrained one here)."""
import torch

from flowfill.classifier import FlowfillClassifier
from flowfill.judge_ceiling import judge_real_renders
from flowfill.run import train_subject_ids


def test_real_renders_have_exact_colours_and_every_measure(data):
    torch.manual_seed(0)
    clf = FlowfillClassifier(len(data.subjects), len(data.styles)).to(data.device).eval()
    sets = {name: data.eval_sets[name][:12] for name in ("v1_emoji", "icons")}
    out = judge_real_renders(data, clf, sets, sizes=(256, 128), seeds=2, vocabulary=train_subject_ids(data, "core"))
    assert sorted(out) == ["icons@128", "icons@256", "v1_emoji@128", "v1_emoji@256"]
    for key, r in out.items():
        assert r["n"] == 24
        assert r["background"] == 1.0, key
        for k in ("subject_top1", "subject_top5", "style", "subject_top1_vocab", "subject_top5_vocab"):
            assert 0.0 <= r[k] <= 1.0
        assert r["subject_top1_vocab"] >= r["subject_top1"]  # choosing among fewer subjects can only help
    assert out["icons@256"]["icon_colour"] == 1.0 and "icon_colour" not in out["v1_emoji@256"]
