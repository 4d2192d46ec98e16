"""flowfill.set_sampler: a state's sampler re-chosen after its evaluation, written everywhere the old choice lives."""
import hashlib
import json

import pytest

from flowfill.set_sampler import SCHEDULER_CONFIG, main, set_sampler


def make_state(tmp_path, judged=True):
    package = tmp_path / "package"
    (package / "scheduler").mkdir(parents=True)
    config = json.dumps({"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 1.0}, indent=2).encode()
    (package / SCHEDULER_CONFIG).write_bytes(config)
    subjects = [{"name": "bus", "styles": ["line"], **({"judged": [0, 5]} if judged else {})}]
    vocabulary = {"kinds": [{"kind": "icon", "styles": ["line"], "subjects": subjects,
                             **({"judged_by_style": {"line": [0, 5]}} if judged else {})}],
                  "other_subjects": 1, **({"judged": {"size": 256, "images": 5}} if judged else {})}
    flowfill = {"name": "t", "recommended": {"steps": 20, "guidance": 1.0, "shift": 1.0}, "vocabulary": vocabulary,
                "files": {SCHEDULER_CONFIG: {"sha256": hashlib.sha256(config).hexdigest(), "bytes": len(config)},
                          "transformer/model.onnx": {"sha256": "0" * 64, "bytes": 1}}}
    (package / "flowfill.json").write_text(json.dumps(flowfill, indent=2))
    (tmp_path / "extras.json").write_text(json.dumps({"scheduler": {"shift": 1.0, "guidance": 1.0}, "dit_steps": 105373}))
    return tmp_path


def test_the_new_shift_reaches_the_engines_config_its_hash_the_recommendation_and_the_states_choice(tmp_path):
    state = make_state(tmp_path)
    change = set_sampler(state, 6, None, "icons +4.9 ± 1.3 at shift 6")
    config = (state / "package" / SCHEDULER_CONFIG).read_bytes()
    assert json.loads(config) == {"_class_name": "FlowMatchEulerDiscreteScheduler", "shift": 6.0}
    flowfill = json.loads((state / "package" / "flowfill.json").read_text())
    # The package's file list names the new bytes, so the engine's hash check passes and the package hash changes.
    assert flowfill["files"][SCHEDULER_CONFIG] == {"sha256": hashlib.sha256(config).hexdigest(), "bytes": len(config)}
    assert flowfill["files"]["transformer/model.onnx"] == {"sha256": "0" * 64, "bytes": 1}
    assert flowfill["recommended"] == {"steps": 20, "guidance": 1.0, "shift": 6.0}
    extras = json.loads((state / "extras.json").read_text())
    assert extras["scheduler"] == {"shift": 6.0, "guidance": 1.0}
    assert extras["sampler_changes"] == [change] == [{"from": {"shift": 1.0, "guidance": 1.0}, "to": {"shift": 6.0, "guidance": 1.0},
                                                      "at_dit_step": 105373, "why": "icons +4.9 ± 1.3 at shift 6"}]


def test_counts_drawn_with_the_old_sampler_are_dropped(tmp_path):
    state = make_state(tmp_path)
    set_sampler(state, 6, None, "checks")
    vocabulary = json.loads((state / "package" / "flowfill.json").read_text())["vocabulary"]
    untouched = json.loads((make_state(tmp_path / "bare", judged=False) / "package" / "flowfill.json").read_text())["vocabulary"]
    assert vocabulary == untouched


def test_no_change_no_reason_or_a_bad_value_is_refused_and_writes_nothing(tmp_path, capsys):
    state = make_state(tmp_path)
    before = {p: p.read_bytes() for p in state.rglob("*") if p.is_file()}
    for shift, guidance, why, says in ((1, None, "x", "already"), (6, None, " ", "say why"), (0, None, "x", "above 0"),
                                       (6, 0.5, "x", "at least 1")):
        with pytest.raises(ValueError, match=says):
            set_sampler(state, shift, guidance, why)
    with pytest.raises(SystemExit):
        main([str(state), "--shift", "1", "--why", "x"])
    assert "already" in capsys.readouterr().err
    assert {p: p.read_bytes() for p in state.rglob("*") if p.is_file()} == before


def test_steps_alone_change_the_recommendation_and_the_record_but_not_the_package_hash(tmp_path):
    state = make_state(tmp_path)
    config_before = (state / "package" / SCHEDULER_CONFIG).read_bytes()
    files_before = json.loads((state / "package" / "flowfill.json").read_text())["files"]
    change = set_sampler(state, None, 2, "call 17 at 10 steps draws what it draws at 20", steps=10)
    assert (state / "package" / SCHEDULER_CONFIG).read_bytes() == config_before
    flowfill = json.loads((state / "package" / "flowfill.json").read_text())
    assert flowfill["files"] == files_before
    assert flowfill["recommended"] == {"steps": 10, "guidance": 2.0, "shift": 1.0}
    extras = json.loads((state / "extras.json").read_text())
    # The training and the checks read {shift, guidance} from the state; the steps are kept in the change.
    assert extras["scheduler"] == {"shift": 1.0, "guidance": 2.0}
    assert change["from"] == {"shift": 1.0, "guidance": 1.0, "steps": 20}
    assert change["to"] == {"shift": 1.0, "guidance": 2.0, "steps": 10}
    with pytest.raises(ValueError, match="already"):
        set_sampler(state, None, None, "again", steps=10)
    with pytest.raises(ValueError, match="whole number"):
        set_sampler(state, None, None, "x", steps=0)
