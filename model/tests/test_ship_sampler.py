"""flowfill.ship_sampler: a guidance or step change reaches the built-in package in place, only for the same weights."""
import json

import pytest

from flowfill.set_sampler import SCHEDULER_CONFIG, set_sampler
from flowfill.ship_sampler import main, ship_sampler

SOURCE_TRANSFORMER = "a" * 64


def make_pair(tmp_path, shift=6.0):
    files = {SCHEDULER_CONFIG: {"sha256": "c" * 64, "bytes": 10}, "vae_decoder/model.onnx": {"sha256": "d" * 64, "bytes": 20}}
    vocabulary = {"kinds": [{"kind": "icon", "styles": ["line"], "subjects": [{"name": "bus", "judged": [3, 5]}],
                             "judged_by_style": {"line": [3, 5]}}], "judged": {"size": 256, "images": 5}}
    state = tmp_path / "state"
    (state / "package").mkdir(parents=True)
    (state / "package" / "flowfill.json").write_text(json.dumps({
        "name": "Tiny v2", "version": "2.9.0", "recommended": {"steps": 10, "guidance": 2.0, "shift": shift},
        "files": {**files, "transformer/model.onnx": {"sha256": SOURCE_TRANSFORMER, "bytes": 30}}}))
    (state / "extras.json").write_text(json.dumps({"scheduler": {"shift": shift, "guidance": 2.0}, "dit_steps": 7}))
    built_in = tmp_path / "default"
    built_in.mkdir()
    (built_in / "flowfill.json").write_text(json.dumps({
        "name": "Tiny v2.9", "version": "2.9.0", "recommended": {"steps": 10, "guidance": 2, "shift": 6},
        "vocabulary": vocabulary, "training": {"version": "2.9.0", "dit_steps": 7},
        "transformer_rebuilt": {"from_sha256": SOURCE_TRANSFORMER},
        "files": {**files, "transformer/model.onnx": {"sha256": "b" * 64, "bytes": 25}}}))
    return state, built_in


def test_the_new_guidance_version_and_name_reach_the_built_in_package_and_old_counts_go(tmp_path):
    state, built_in = make_pair(tmp_path)
    set_sampler(state, None, 2.5, "icons +4.4 ± 1.0 at guidance 2.5")
    before = json.loads((built_in / "flowfill.json").read_text())
    change = ship_sampler(state, built_in, "2.10.0")
    after = json.loads((built_in / "flowfill.json").read_text())
    assert after["name"] == "Tiny v2.10" and after["version"] == after["training"]["version"] == "2.10.0"
    assert after["recommended"] == {"steps": 10, "guidance": 2.5, "shift": 6.0}
    # The files, and so the package hash, are untouched: layers made at guidance 2 regenerate from this package.
    assert after["files"] == before["files"] and after["transformer_rebuilt"] == before["transformer_rebuilt"]
    assert "judged" not in after["vocabulary"] and "judged_by_style" not in after["vocabulary"]["kinds"][0]
    assert after["vocabulary"]["kinds"][0]["subjects"] == [{"name": "bus"}]
    assert after["sampler_changes"] == [change] == [{
        "version": "2.10.0", "from": {"version": "2.9.0", "steps": 10, "guidance": 2, "shift": 6},
        "to": {"steps": 10, "guidance": 2.5, "shift": 6.0}, "why": "icons +4.4 ± 1.0 at guidance 2.5"}]


def edited_pair(root, guidance=None, edit=lambda manifest: None):
    """A pair whose state's sampler set_sampler changed (if `guidance`), its package manifest then edited by `edit`."""
    state, built_in = make_pair(root)
    if guidance is not None:
        set_sampler(state, None, guidance, "x")
    path = state / "package" / "flowfill.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    return state, built_in


def test_other_weights_a_new_shift_no_change_or_a_bad_version_are_refused_and_write_nothing(tmp_path, capsys):
    def other_transformer(manifest):
        manifest["files"]["transformer/model.onnx"]["sha256"] = "e" * 64

    def other_scheduler(manifest):  # as set_sampler --shift leaves the config's entry
        manifest["files"][SCHEDULER_CONFIG]["sha256"] = "f" * 64

    def shift_only(manifest):
        manifest["recommended"]["shift"] = 3.0

    def unexplained_guidance(manifest):
        manifest["recommended"]["guidance"] = 3.0

    versions = edited_pair(tmp_path / "versions", 2.5)
    cases = [
        (*edited_pair(tmp_path / "weights", 2.5, other_transformer), "2.10.0", "transformer/model.onnx differ"),
        (*edited_pair(tmp_path / "scheduler", 2.5, other_scheduler), "2.10.0", "scheduler_config.json differ"),
        (*edited_pair(tmp_path / "shift", None, shift_only), "2.10.0", "the shift changes"),
        (*edited_pair(tmp_path / "same"), "2.10.0", "as .* does already"),
        (*edited_pair(tmp_path / "unexplained", None, unexplained_guidance), "2.10.0", "records no sampler change"),
        # an earlier change (to 2.5) is on record, the hand edit to 3.0 is not
        (*edited_pair(tmp_path / "older", 2.5, unexplained_guidance), "2.10.0", "last sampler change is to"),
        (*versions, "2.9.0", "already"),
        (*versions, "2.10", "major.minor.patch"),
    ]
    for state, built_in, version, says in cases:
        before = (built_in / "flowfill.json").read_bytes()
        with pytest.raises(ValueError, match=says):
            ship_sampler(state, built_in, version)
        assert (built_in / "flowfill.json").read_bytes() == before
    with pytest.raises(SystemExit):
        main([str(versions[0]), str(versions[1]), "--version", "2.9.0"])
    assert "already" in capsys.readouterr().err
