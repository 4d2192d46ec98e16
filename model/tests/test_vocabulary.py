"""flowfill.json's prompt vocabulary: what a package says it was trained to draw, read from the data alone."""
import json

import pytest

from flowfill.vocabulary import judged_counts, main, prompt_vocabulary, subject_ids_of


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


def _check(manifest, set_name, hits_of, *, seeds=1, size=256, steps=20, dit_steps=7, sampler=None, limit=None, style=None,
           aspect="1:1"):
    """A sampler_check --json result: per-image top-1 among the vocabulary, seed by seed over the set."""
    prompts = manifest["eval_sets"][set_name]
    hits = [hits_of(seed, p["subject"]) for seed in range(seeds) for p in prompts]
    return {"model": f"/tmp/state ({dit_steps} DiT steps)", "set": set_name, "size": size, "steps": steps, "seeds": seeds,
            "seed_index": 0, "limit": limit, "aspect": aspect, "sampler": sampler or {"shift": 1.0, "guidance": 1.0},
            **({"style": style} if style else {}), "scores": {"per_image": {"subject_top1_vocab": [float(h) for h in hits]}}}


FLOWFILL = {"training": {"dit_steps": 7}, "recommended": {"steps": 20, "guidance": 1, "shift": 1}}


def test_judged_counts_are_per_subject_over_every_check_and_seed(manifest):
    # Subject ids decide the hits, so a count that mixed subjects up (two subjects of one name, an emoji and an
    # icon "skull") or seeds would not come out as predicted.
    emoji = _check(manifest, "v1_emoji", lambda seed, s: s % 3 != 0 or seed == 1, seeds=2)
    icons = _check(manifest, "icons", lambda seed, s: s % 2 == 0)
    counts, how, by_style = judged_counts(manifest, FLOWFILL, [emoji, icons])
    for p in manifest["eval_sets"]["v1_emoji"]:
        assert counts[p["subject"]] == ([2, 2] if p["subject"] % 3 else [1, 2])
    for p in manifest["eval_sets"]["icons"]:
        assert counts[p["subject"]] == [1 - p["subject"] % 2, 1]
    assert how["size"] == 256 and how["images"] == 600 and "256×256" in how["about"]
    # By the style each image's prompt asked for: the same images, counted by style instead of subject.
    expected = {}
    for seed in range(2):
        for p in manifest["eval_sets"]["v1_emoji"]:
            tally = expected.setdefault(p["style"], [0, 0])
            tally[0] += int(p["subject"] % 3 != 0 or seed == 1)
            tally[1] += 1
    for p in manifest["eval_sets"]["icons"]:
        tally = expected.setdefault(p["style"], [0, 0])
        tally[0] += 1 - p["subject"] % 2
        tally[1] += 1
    assert by_style == expected and sum(n for _, n in by_style.values()) == 600
    vocab = prompt_vocabulary(manifest, subject_ids_of(manifest, "core"), (counts, how, by_style))
    assert all("judged" in s for k in vocab["kinds"] for s in k["subjects"]) and vocab["judged"] == how
    icon = next(k for k in vocab["kinds"] if k["kind"] == "icon")
    recognised = sum(s["judged"][0] for s in icon["subjects"])
    assert recognised == sum(1 - p["subject"] % 2 for p in manifest["eval_sets"]["icons"])
    names = [s["name"] for s in manifest["styles"]]
    assert icon["judged_by_style"] == {names[k]: v for k, v in expected.items() if names[k] in icon["styles"]}
    assert list(icon["judged_by_style"]) == [st for st in icon["styles"] if st in icon["judged_by_style"]]
    assert sum(r for r, _ in icon["judged_by_style"].values()) == recognised
    assert "judged_by_style" not in prompt_vocabulary(manifest, subject_ids_of(manifest, "core"))["kinds"][0]


@pytest.mark.parametrize("change, message", [
    ({"dit_steps": 8}, "not of this package's transformer (7 DiT steps)"),
    ({"sampler": {"shift": 6.0, "guidance": 1.0}}, "the package recommends"),
    ({"steps": 8}, "8 steps; the package recommends"),
    ({"limit": 20}, "covers only its set's first 20 prompts"),
    ({"style": "thin"}, "covers only its set's thin prompts"),
    ({"aspect": "16:9"}, "drew its images at 16:9"),
])
def test_checks_of_another_model_sampler_or_part_of_a_set_are_refused(manifest, change, message):
    check = _check(manifest, "icons", lambda seed, s: True, **change)
    if change.get("limit"):
        check["scores"]["per_image"]["subject_top1_vocab"] = check["scores"]["per_image"]["subject_top1_vocab"][:20]
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        judged_counts(manifest, FLOWFILL, [check])


def test_checks_of_two_sizes_or_of_subjects_the_model_did_not_train_on_are_refused(manifest):
    icons = _check(manifest, "icons", lambda seed, s: True)
    with pytest.raises(ValueError, match="sizes \\[256, 512\\]"):
        judged_counts(manifest, FLOWFILL, [icons, _check(manifest, "v1_emoji", lambda seed, s: True, size=512)])
    with pytest.raises(ValueError, match="draws seeds another check drew: \\[0\\]"):
        judged_counts(manifest, FLOWFILL, [icons, icons])
    untrained = judged_counts(manifest, FLOWFILL, [_check(manifest, "emoji", lambda seed, s: True)])
    with pytest.raises(ValueError, match="does not list"):
        prompt_vocabulary(manifest, subject_ids_of(manifest, "core"), untrained)


def test_cli_adds_the_counts_from_check_files(data_dir, manifest, tmp_path):
    (tmp_path / "flowfill.json").write_text(json.dumps({"name": "t", **FLOWFILL}))
    check = tmp_path / "icons.json"
    check.write_text(json.dumps(_check(manifest, "icons", lambda seed, s: True, seeds=2)))
    main([str(tmp_path), "--data", str(data_dir), "--checks", str(check)])
    vocab = json.loads((tmp_path / "flowfill.json").read_text())["vocabulary"]
    icon = next(k for k in vocab["kinds"] if k["kind"] == "icon")
    assert {tuple(s["judged"]) for s in icon["subjects"]} == {(2, 2)} and vocab["judged"]["images"] == 400
    # The emoji no check drew carry no count.
    assert not any("judged" in s for k in vocab["kinds"] if k["kind"] == "emoji" for s in k["subjects"])
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--data", str(data_dir), "--checks", str(check), "--train-subjects", "v1"])
