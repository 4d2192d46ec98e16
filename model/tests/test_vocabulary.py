"""flowfill.json's prompt vocabulary: what a package says it was trained to draw, read from the data alone."""
import json

import pytest

from flowfill.vocabulary import main, prompt_vocabulary, subject_ids_of


@pytest.fixture(scope="module")
def manifest(data_dir):
    return json.loads((data_dir / "manifest.json").read_text())


def test_core_vocabulary_is_the_two_evaluation_sets_subjects_with_their_own_styles(manifest):
    ids = subject_ids_of(manifest, "core")
    vocab = prompt_vocabulary(manifest, ids)
    by_kind = {k["kind"]: k for k in vocab["kinds"]}
    assert set(by_kind) == {"emoji", "icon"}
    assert len(by_kind["emoji"]["subjects"]) == 200 and len(by_kind["icon"]["subjects"]) == 200
    assert vocab["other_subjects"] == len(manifest["subjects"]) - 400
    trained = {manifest["subjects"][i]["names"][0] for i in ids}
    assert {s["name"] for k in vocab["kinds"] for s in k["subjects"]} == trained
    # Each subject lists only the styles it has drawings in, and those are styles of its kind.
    for kind in vocab["kinds"]:
        for s in kind["subjects"]:
            assert s["styles"] and set(s["styles"]) <= set(kind["styles"])
    # The prompt template of a kind is one its training captions used.
    assert by_kind["icon"]["prompt"] in manifest["templates"]["icon"]
    assert vocab["colours"] == [c["name"] for c in manifest["colours"]]


def test_every_subject_is_listed_when_the_model_trained_on_all(manifest):
    vocab = prompt_vocabulary(manifest, subject_ids_of(manifest, "all"))
    assert sum(len(k["subjects"]) for k in vocab["kinds"]) == len(manifest["subjects"])
    assert vocab["other_subjects"] == 0


def test_cli_writes_the_block_in_the_notes_place_and_leaves_every_other_field(data_dir, tmp_path):
    before = {"name": "Flowfill test", "vocabulary_note": "old words", "training": {"dit_steps": 7},
              "files": {"transformer/model.onnx": {"sha256": "0" * 64, "bytes": 1}}}
    (tmp_path / "flowfill.json").write_text(json.dumps(before, indent=2))
    main([str(tmp_path), "--data", str(data_dir), "--train-subjects", "v1"])
    written = json.loads((tmp_path / "flowfill.json").read_text())
    assert list(written) == ["name", "vocabulary", "training", "files"]
    assert {k: v for k, v in written.items() if k != "vocabulary"} == {k: v for k, v in before.items() if k != "vocabulary_note"}
    assert [k["kind"] for k in written["vocabulary"]["kinds"]] == ["emoji"]
    assert len(written["vocabulary"]["kinds"][0]["subjects"]) == 200
    # Written again, the block is replaced where it stands.
    main([str(tmp_path), "--data", str(data_dir), "--train-subjects", "core"])
    again = json.loads((tmp_path / "flowfill.json").read_text())
    assert list(again) == list(written) and len(again["vocabulary"]["kinds"]) == 2
