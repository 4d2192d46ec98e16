"""flowfill.rejudge: a state's judge trained on at another recipe, the old one kept in judge_changes, and
the new one given to another state that had the same judge."""
import json

import pytest
import torch

from flowfill import resume
from flowfill.classifier import STYLE_WEIGHT, FlowfillClassifier, train_classifier
from flowfill.rejudge import adopt
from flowfill.run import retire_judge


def test_a_judge_trained_on_starts_from_the_old_weights_and_leaves_them_alone(data):
    torch.manual_seed(0)
    old = FlowfillClassifier(data.num_subjects, len(data.styles), width=8, input_size=32).eval().requires_grad_(False)
    before = {k: v.clone() for k, v in old.state_dict().items()}
    same, info = train_classifier(data, 0, width=8, input_size=32, batch=8, eval_n=8, init=old)  # no step: the old weights
    assert info["steps"] == 0 and info["trained_on_from_earlier_judge"] and info["style_weight"] == STYLE_WEIGHT
    assert all(torch.equal(v, before[k]) for k, v in same.state_dict().items())
    new, info = train_classifier(data, 2, width=8, input_size=32, batch=8, eval_n=8, init=old, style_weight=0.5)
    assert info["steps"] >= 1 and info["style_weight"] == 0.5
    assert all(torch.equal(v, before[k]) for k, v in old.state_dict().items())
    assert not torch.equal(new.style.weight, old.style.weight)
    with pytest.raises(ValueError, match="shape"):
        train_classifier(data, 0, width=16, input_size=32, batch=8, eval_n=8, init=old)


def test_adopt_gives_another_state_the_new_judge_and_retires_its_own(tmp_path, data):
    torch.manual_seed(0)
    old, new = FlowfillClassifier(10, 3, width=8, input_size=128), FlowfillClassifier(10, 3, width=8, input_size=128)
    old_info, new_info = {"style": 0.963, "style_weight": 0.3}, {"style": 0.99, "style_weight": 1.0}
    teacher = {"classifier": old, "classifier_info": old_info, "v1_eval": {"v1_emoji@256": {"style": 0.48}}, "dit_steps": 92230}
    resume.save(tmp_path / "teacher", teacher, data)
    # What rejudge writes for the candidate: its own state with the judge swapped.
    candidate = {"classifier": old, "classifier_info": old_info, "v1_eval": {"v1_emoji@256": {"style": 0.48}}, "dit_steps": 100}
    retire_judge(candidate, 128, reason="flowfill.rejudge {}")
    candidate.update(classifier=new, classifier_info=new_info, v1_eval={"v1_emoji@256": {"style": 0.5}})
    resume.save(tmp_path / "rejudged", candidate, data)

    state = adopt(tmp_path / "teacher", tmp_path / "rejudged")
    extras = json.loads((tmp_path / "teacher" / resume.EXTRAS).read_text())
    assert extras == state and extras["dit_steps"] == 92230
    assert extras["classifier_info"] == new_info and extras["v1_eval"] == {"v1_emoji@256": {"style": 0.5}}
    assert extras["judge_changes"] == [{"from_input": 128, "to_input": 128, "at_dit_step": 92230, "old_classifier_info": old_info,
                                        "old_v1_eval": {"v1_emoji@256": {"style": 0.48}}, "reason": "flowfill.rejudge {}"}]
    back = resume.load_classifier(tmp_path / "teacher", "cpu")
    assert torch.equal(back.style.weight, new.style.weight.half().float())
    # The judge it has now is not the one that rejudge replaced: refused, nothing written.
    with pytest.raises(ValueError, match="not the one"):
        adopt(tmp_path / "teacher", tmp_path / "rejudged")
    assert json.loads((tmp_path / "teacher" / resume.EXTRAS).read_text()) == extras
