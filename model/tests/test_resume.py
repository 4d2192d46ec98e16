"""The resumed state's dataset check: the manifest without its caption templates decides (data_content_sha256);
a state saved before that key existed is held to the whole manifest unless the change is accepted on request."""
import json
from types import SimpleNamespace

import pytest

from flowfill import resume

MANIFEST = {
    "format": 2,
    "templates": {"emoji": ["{subject}, {style} style, on a {background} background"], "icon": ["{subject} icon, {style} style"]},
    "subjects": [{"name": "rocket"}, {"name": "shopping cart"}],
    "colours": {"teal": [0, 128, 128], "dark blue": [0, 0, 139]},
}


def dataset(tmp_path, name, manifest):
    d = tmp_path / name
    d.mkdir()
    (d / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return SimpleNamespace(dir=str(d))


def saved_state(tmp_path, data, legacy=False):
    out = tmp_path / "state"
    resume.save(out, {"dit_steps": 7, "dit_seconds": 1.5}, data)
    if legacy:
        extras = json.loads((out / resume.EXTRAS).read_text())
        del extras["data_content_sha256"]
        (out / resume.EXTRAS).write_text(json.dumps(extras))
    return out


def with_changes(**changes):
    return json.loads(json.dumps(dict(MANIFEST, **changes)))


def test_content_hash_ignores_templates_and_formatting(tmp_path):
    a = dataset(tmp_path, "a", MANIFEST)
    b = dataset(tmp_path, "b", with_changes(templates={"emoji": ["on a {background} background, {subject}, {style} style"]}))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "manifest.json").write_text(json.dumps(MANIFEST, separators=(",", ":")))
    c = SimpleNamespace(dir=str(tmp_path / "c"))
    assert resume.data_manifest_hash(a) != resume.data_manifest_hash(b)
    assert resume.data_content_hash(a) == resume.data_content_hash(b) == resume.data_content_hash(c)


def test_state_with_content_hash_resumes_across_template_changes_only(tmp_path):
    out = saved_state(tmp_path, dataset(tmp_path, "old", MANIFEST))
    extras = json.loads((out / resume.EXTRAS).read_text())
    assert extras["data_content_sha256"] and extras["data_manifest_sha256"]
    new_templates = dataset(tmp_path, "templates", with_changes(templates={"emoji": ["on a {background} background, {subject}"]}))
    assert resume.load(out, new_templates, "cpu")["dit_steps"] == 7
    subjects = dataset(tmp_path, "subjects", with_changes(subjects=[{"name": "rocket"}, {"name": "shopping bag"}]))
    with pytest.raises(ValueError, match="data_content_sha256"):
        resume.load(out, subjects, "cpu")
    colours = dataset(tmp_path, "colours", with_changes(colours={"teal": [0, 128, 129], "dark blue": [0, 0, 139]}))
    with pytest.raises(ValueError, match="data_content_sha256"):
        resume.load(out, colours, "cpu", accept_data_change=True)  # the flag is for legacy states only


def test_legacy_state_needs_the_flag_when_the_manifest_differs(tmp_path):
    old = dataset(tmp_path, "old", MANIFEST)
    out = saved_state(tmp_path, old, legacy=True)
    assert "data_content_sha256" not in json.loads((out / resume.EXTRAS).read_text())
    assert resume.load(out, old, "cpu")["dit_steps"] == 7
    changed = dataset(tmp_path, "changed", with_changes(templates={"emoji": ["on a {background} background, {subject}"]}))
    with pytest.raises(ValueError, match="data_manifest_sha256.*--accept-data-change"):
        resume.load(out, changed, "cpu")
    said = []
    state = resume.load(out, changed, "cpu", accept_data_change=True, log=said.append)
    assert state["dit_steps"] == 7
    assert len(said) == 1 and "legacy data_manifest_sha256" in said[0] and "accepted on request" in said[0]


def test_run_passes_the_flag():
    from flowfill.run import parse_args

    base = ["--data", "d", "--resume-out", "o", "--eval-out", "e"]
    assert parse_args(base).accept_data_change is False
    assert parse_args(base + ["--accept-data-change"]).accept_data_change is True
