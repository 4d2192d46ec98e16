"""The evaluation classifier's input side (--judge-input): kept with the judge in classifier.npz, judges
saved before it read as 64², and a resumed judge of another side is replaced together with v1's numbers."""
import json

import numpy as np
import torch

from flowfill import resume
from flowfill.classifier import INPUT, FlowfillClassifier
from flowfill.evaluate import embed
from flowfill.run import parse_args, replace_judge_if_asked


def test_the_input_side_travels_with_the_judge_and_older_judges_read_64(tmp_path, data):
    torch.manual_seed(0)
    clf = FlowfillClassifier(10, 3, width=8, input_size=128).eval()
    resume.save(tmp_path, {"classifier": clf}, data)
    back = resume.load_classifier(tmp_path, "cpu")
    assert back.input_size == 128
    images = torch.rand(2, 3, 256, 512) * 2 - 1
    np.testing.assert_allclose(embed(back, images), embed(clf, images), rtol=1e-2, atol=1e-3)  # float16 in the file
    # A judge saved before the input side was recorded: its config names none.
    z = dict(np.load(tmp_path / resume.CLASSIFIER))
    config = json.loads(bytes(z["__config__"]).decode())
    del config["input_size"]
    z["__config__"] = np.frombuffer(json.dumps(config).encode(), dtype=np.uint8)
    np.savez_compressed(tmp_path / resume.CLASSIFIER, **z)
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
