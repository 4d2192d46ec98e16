"""The evaluation classifier's input side (--judge-input): kept with the judge in classifier.npz, judges
saved before it read as 64², and a resumed judge of another side is replaced together with v1's numbers."""
import json

import numpy as np
import torch

from flowfill import resume
from flowfill.classifier import INPUT, FlowfillClassifier
from flowfill.evaluate import embed
from flowfill.run import parse_args, replace_judge_if_asked


def save_judge(tmp_path, clf, drop_input_size=False):
    arrays = {k: v.numpy() for k, v in clf.state_dict().items()}
    config = {k: v for k, v in clf.config.items() if not (drop_input_size and k == "input_size")}
    arrays["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez(tmp_path / resume.CLASSIFIER, **arrays)


def test_the_input_side_travels_with_the_judge_and_older_judges_read_64(tmp_path):
    torch.manual_seed(0)
    clf = FlowfillClassifier(10, 3, width=8, input_size=128).eval()
    save_judge(tmp_path, clf)
    back = resume.load_classifier(tmp_path, "cpu")
    assert back.input_size == 128
    images = torch.rand(2, 3, 256, 512) * 2 - 1
    np.testing.assert_allclose(embed(back, images), embed(clf, images), rtol=1e-5, atol=1e-6)
    save_judge(tmp_path, clf, drop_input_size=True)
    assert resume.load_classifier(tmp_path, "cpu").input_size == INPUT == 64


def test_a_judge_of_another_side_is_replaced_with_v1s_numbers_kept_in_judge_changes():
    old = FlowfillClassifier(10, 3, width=8)
    state = {"classifier": old, "classifier_info": {"style": 0.89}, "v1_eval": {"v1_emoji@256": {"style": 0.645}}, "dit_steps": 55193}
    replace_judge_if_asked(state, 64, print)  # the same side: nothing changes
    assert state["classifier"] is old and "judge_changes" not in state
    replace_judge_if_asked(state, None, print)
    assert state["classifier"] is old
    replace_judge_if_asked(state, 128, print)
    assert not {"classifier", "classifier_info", "v1_eval"} & set(state)
    assert state["judge_changes"] == [{"from_input": 64, "to_input": 128, "at_dit_step": 55193, "old_classifier_info": {"style": 0.89},
                                       "old_v1_eval": {"v1_emoji@256": {"style": 0.645}}}]
    assert parse_args(["--data", "d", "--resume-out", "o", "--eval-out", "e", "--judge-input", "128"]).judge_input == 128
