"""flowfill.paired: two sampler_check JSONs paired image by image, without torch."""
import json
from pathlib import Path

import pytest

from flowfill.paired import check_name, main, paired_differences


def check(model, top1, style, seeds=2):
    return {"model": model, "set": "v1_emoji", "size": 256, "steps": 20, "seeds": seeds, "limit": None,
            "sampler": {"shift": 1.0, "guidance": 1.0},
            "scores": {"per_image": {"subject_top1": top1, "style": style}}}


def test_differences_standard_errors_and_discordant_counts(tmp_path):
    new = check("new", [1, 1, 0, 1, 1, 0], [1, 1, 1, 1, 0, 1])
    old = check("old", [1, 0, 0, 0, 1, 1], [1, 1, 1, 1, 0, 1])
    d = paired_differences(new, old)
    # differences +1, +1, −1 and three 0: mean 1/6, sample sd √(17/30) over √6
    assert d["subject_top1"]["difference"] == pytest.approx(1 / 6)
    assert d["subject_top1"]["standard_error"] == pytest.approx((17 / 30) ** 0.5 / 6 ** 0.5)
    assert (d["subject_top1"]["only_this"], d["subject_top1"]["only_other"], d["subject_top1"]["n"]) == (2, 1, 6)
    assert d["style"] == {"difference": 0.0, "standard_error": 0.0, "only_this": 0, "only_other": 0, "n": 6}
    paths = [tmp_path / "new.json", tmp_path / "old.json"]
    for p, j in zip(paths, (new, old)):
        p.write_text(json.dumps(j))
    main([str(paths[0]), str(paths[1]), "--json", str(tmp_path / "out.json")])
    written = json.loads((tmp_path / "out.json").read_text())
    assert written["other"]["subject_top1"]["only_this"] == 2 and written["this"]["model"] == "new"


def test_refuses_checks_of_other_seeds_or_without_per_image_results():
    with pytest.raises(ValueError, match="same set"):
        paired_differences(check("new", [1, 0], [1, 1], seeds=1), check("old", [1, 0, 1, 1], [1, 1, 1, 1], seeds=2))
    bare = check("old", [1, 0], [1, 1])
    del bare["scores"]["per_image"]
    with pytest.raises(ValueError, match="per-image"):
        paired_differences(check("new", [1, 0], [1, 1]), bare)


def test_step_counts_pair_like_other_samplers_the_starting_noise_being_the_same():
    fewer = dict(check("v2.4", [1, 0, 0, 1], [1, 1, 1, 1]), steps=10)
    d = paired_differences(fewer, check("v2.4", [1, 1, 0, 1], [1, 1, 1, 1]))
    assert (d["subject_top1"]["only_this"], d["subject_top1"]["only_other"]) == (0, 1)


def test_refuses_checks_of_other_seed_indices_and_reads_older_checks_as_the_first_seeds():
    fresh = dict(check("new", [1, 0, 1, 1], [1, 1, 1, 1]), seed_index=5)
    older = check("old", [1, 0, 0, 1], [1, 1, 1, 1])  # written before sampler_check recorded seed_index
    with pytest.raises(ValueError, match="seed_index"):
        paired_differences(fresh, older)
    assert paired_differences(dict(fresh, seed_index=0), older)["subject_top1"]["only_this"] == 1
    assert paired_differences(fresh, dict(older, seed_index=5))["subject_top1"]["n"] == 4


def test_check_names_tell_a_states_checks_apart():
    """gpu-slice.sh names each check by check_name: session 31's three 256² checks of one state (v1_emoji, emoji,
    icons, n = 1,000 each) all became new-t256-g2-n1000.json, each overwriting the one before."""
    scored = lambda j, n: dict(j, scores={"n": n, "per_image": {}})  # noqa: E731
    base = scored(dict(check("new", [], [], seeds=5), sampler={"shift": 6.0, "guidance": 2.0}), 1000)
    names = [check_name(dict(base, set=s)) for s in ("v1_emoji", "emoji", "icons")]
    assert names == ["t256-sh6-g2-n1000", "emoji-t256-sh6-g2-n1000", "icons-t256-sh6-g2-n1000"]  # v1_emoji's as before session 31
    assert check_name(dict(base, seed_index=5)) == "t256-sh6-g2-n1000-s5"
    assert check_name(dict(base, sampler={"shift": 1.0, "guidance": 2.0})) == "t256-sh1-g2-n1000"  # one state, two shifts
    assert check_name(dict(base, steps=10)) == "t256-sh6-g2-n1000-steps10"  # one state, two step counts
    assert check_name(dict(base, steps=20)) == check_name(base)  # the evaluation's 20 keeps the older names
    assert check_name(dict(scored(dict(base, size=512, limit=40, sampler={"shift": 1.0, "guidance": 2.5}), 120))) == "t512-sh1-g2.5-n120-l40"
    # A frame's shape (sampler_check --aspect, session 41); 1:1, written or not, keeps the older names.
    assert check_name(dict(base, aspect="16:9", steps=10)) == "t256-sh6-g2-n1000-a16x9-steps10"
    assert check_name(dict(base, aspect="1:1")) == check_name(base)
    # WASM's int8 products (sampler_check --int8-products, session 45) beside the exact ones of the same state.
    assert check_name(dict(base, steps=10, products="int8")) == "t256-sh6-g2-n1000-steps10-int8"
    # The CPU's checks (session 53) as they were named by hand; the GPU's, recorded or not, keep the older names.
    assert check_name(dict(base, steps=10, device="cpu", products="int8")) == "t256-sh6-g2-n1000-steps10-cpu-int8"
    assert check_name(dict(base, device="cuda")) == check_name(base)


def test_checks_of_two_shapes_pair_only_when_asked_and_older_checks_read_as_square():
    square = check("old", [1, 0, 0, 1], [1, 1, 1, 1])  # written before sampler_check recorded the aspect
    wide = dict(check("new", [1, 1, 0, 1], [1, 1, 1, 1]), aspect="16:9", width=336, height=192)
    with pytest.raises(ValueError, match="aspect"):
        paired_differences(wide, square)
    assert paired_differences(wide, square, across_sizes=True)["subject_top1"]["only_this"] == 1
    assert paired_differences(dict(wide, aspect="1:1"), square)["subject_top1"]["n"] == 4


def test_weak_subjects_images_pair_apart_from_the_others(tmp_path):
    """--weak-from: a recipe aimed at the subjects a package draws poorly is judged on their images and, apart, on
    everyone else's, each image's subject read from its place in the check (seed by seed over the set's prompts)."""
    manifest = {"subjects": [{"kind": "icon", "names": ["bus"]}, {"kind": "icon", "names": ["cart"]},
                             {"kind": "emoji", "names": ["rocket"]}],
                "eval_sets": {"v1_emoji": [{"subject": 0}, {"subject": 1}, {"subject": 2}]}}
    flowfill = {"vocabulary": {"judged": {"size": 256}, "kinds": [
        {"kind": "icon", "subjects": [{"name": "bus", "judged": [0, 5]}, {"name": "cart", "judged": [4, 5]}]},
        {"kind": "emoji", "subjects": [{"name": "rocket", "judged": [2, 10]}]}]}}
    # two seeds of three prompts: images 0, 3 are bus, 1, 4 cart, 2, 5 rocket
    new = check("weak", [1, 1, 1, 1, 0, 0], [1] * 6)
    old = check("control", [0, 1, 0, 0, 1, 0], [1] * 6)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "manifest.json").write_text(json.dumps(manifest))
    paths = {}
    for name, j in (("new", new), ("old", old), ("flowfill", flowfill)):
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(j))
    result = main([str(paths["new"]), str(paths["old"]), "--weak-from", str(paths["flowfill"]),
                   "--data", str(tmp_path / "data"), "--json", str(tmp_path / "out.json")])
    weak, others = result["by_group"]["weak subjects"], result["by_group"]["other subjects"]
    assert (weak["images"], others["images"]) == (4, 2)  # bus and rocket are under half
    assert (weak["subject_top1"]["only_this"], weak["subject_top1"]["only_other"]) == (3, 0)
    assert weak["subject_top1"]["difference"] == pytest.approx(3 / 4)
    assert (others["subject_top1"]["only_this"], others["subject_top1"]["only_other"]) == (0, 1)
    assert json.loads((tmp_path / "out.json").read_text())["by_group"]["weak subjects"]["images"] == 4


def test_checks_of_one_style_pair_only_with_checks_of_that_style_and_read_their_own_prompts():
    """sampler_check --style: a check of one style's prompts (e.g. the thin icons) pairs with another of that
    style, is named apart, and its images' subjects are read from that style's prompts alone."""
    from flowfill.vocabulary import check_prompts, image_subjects

    thin = dict(check("new", [1, 0], [1, 1], seeds=1), style="thin")
    with pytest.raises(ValueError, match="style"):
        paired_differences(thin, check("old", [1, 1], [1, 1], seeds=1))
    assert paired_differences(thin, dict(check("old", [0, 0], [1, 1], seeds=1), style="thin"))["subject_top1"]["only_this"] == 1
    named = dict(thin, scores={"n": 2, "per_image": {}}, seed_index=5)
    assert check_name(named) == "t256-sh1-g1-n2-s5-thin"
    manifest = {"styles": [{"name": "line"}, {"name": "thin"}],
                "eval_sets": {"icons": [{"subject": 3, "style": 0}, {"subject": 4, "style": 1}, {"subject": 5, "style": 1}]}}
    assert check_prompts(manifest, "icons", "thin") == manifest["eval_sets"]["icons"][1:]
    assert check_prompts(manifest, "icons", "thin", limit=1) == manifest["eval_sets"]["icons"][1:2]
    assert check_prompts(manifest, "icons") == manifest["eval_sets"]["icons"]
    assert image_subjects(manifest, dict(thin, set="icons", seeds=2), 4) == [4, 5, 4, 5]
    with pytest.raises(ValueError, match="no style 'hairline'"):
        check_prompts(manifest, "icons", "hairline")
    with pytest.raises(ValueError, match="no prompt"):
        check_prompts({**manifest, "eval_sets": {"icons": [{"subject": 3, "style": 0}]}}, "icons", "thin")


def test_checks_of_two_sizes_pair_only_when_asked(tmp_path, capsys):
    """Session 37 compared v2.4's thin icons at 512² with the same prompts and seed numbers at 256²."""
    big = dict(check("v2.4", [0, 0, 1, 0], [1, 1, 1, 1]), size=512)
    small = check("v2.4", [1, 1, 1, 0], [1, 1, 1, 1])
    with pytest.raises(ValueError, match="size"):
        paired_differences(big, small)
    d = paired_differences(big, small, across_sizes=True)
    assert (d["subject_top1"]["difference"], d["subject_top1"]["only_other"]) == (-0.5, 2)
    with pytest.raises(ValueError, match="seeds"):
        paired_differences(big, check("v2.4", [1, 1], [1, 1], seeds=1), across_sizes=True)
    paths = [tmp_path / "big.json", tmp_path / "small.json"]
    for p, j in zip(paths, (big, small)):
        p.write_text(json.dumps(j))
    main([str(paths[0]), str(paths[1]), "--across-sizes"])
    assert "512² − 256² (paired by prompt and seed number, not by noise)" in capsys.readouterr().out


def test_checks_at_other_seed_indices_join_in_order_and_pair_only_with_the_same_parts(tmp_path):
    parts = {name: [dict(check(name, top1, [1, 1]), seed_index=s, limit=2) for s, top1 in ((5, [1, 0]), (6, [0, 0]))]
             for name in ("new", "old")}
    parts["old"][1]["scores"]["per_image"]["subject_top1"] = [0, 1]
    paths = {}
    for name, checks in parts.items():
        paths[name] = []
        for c in checks:
            p = tmp_path / f"{name}-{c['seed_index']}.json"
            p.write_text(json.dumps(c))
            paths[name].append(str(p))
    d = main([",".join(paths["new"]), ",".join(paths["old"])])["other"]["subject_top1"]
    # new [1, 0, 0, 0] against old [1, 0, 0, 1]: one image lost of four
    assert (d["only_this"], d["only_other"], d["n"]) == (0, 1, 4)
    with pytest.raises(ValueError, match="seed_index"):
        main([",".join(paths["new"]), ",".join(reversed(paths["old"]))])
    other_sampler = tmp_path / "other-sampler.json"
    other_sampler.write_text(json.dumps(dict(parts["new"][1], sampler={"shift": 6.0, "guidance": 2.0})))
    with pytest.raises(ValueError, match="joining needs checks of the same sampler"):
        main([f"{paths['new'][0]},{other_sampler}", ",".join(paths["old"])])


def test_checks_drawn_on_two_devices_never_pair_and_older_checks_read_as_the_gpus():
    """torch draws other starting noise from one seed on the CPU than on CUDA: a CPU check against a GPU check holds
    other images under the same prompts, and pairing them would read luck as a difference."""
    cpu = dict(check("new", [1, 0, 1, 1], [1, 1, 1, 1]), device="cpu")
    gpu = check("old", [1, 0, 0, 1], [1, 1, 1, 1])  # written before sampler_check recorded its device
    with pytest.raises(ValueError, match="device"):
        paired_differences(cpu, gpu)
    assert paired_differences(dict(cpu, device="cuda"), gpu)["subject_top1"]["only_this"] == 1
    assert paired_differences(cpu, dict(gpu, device="cpu"))["subject_top1"]["n"] == 4


@pytest.mark.parametrize("other", [{"products": "int8"}, {"decoder": "tuned/decoder.pt"}, {"device": "cpu"}])
def test_a_join_refuses_parts_of_other_products_decoders_or_devices(tmp_path, other):
    """An int8 part joined to an exact one (or another decoder's, or the CPU's) would read as one drawing of one
    model and pair with a join of the parts that are."""
    parts = [dict(check("new", [1, 0], [1, 1]), seed_index=s, limit=2) for s in (5, 6)]
    parts[1] = {**parts[1], **other}
    paths = []
    for c in parts:
        p = tmp_path / f"new-{c['seed_index']}.json"
        p.write_text(json.dumps(c))
        paths.append(str(p))
    key = next(iter(other))
    with pytest.raises(ValueError, match=f"joining needs checks of the same {key}"):
        main([",".join(paths), ",".join(paths)])
    both = [str(tmp_path / f"both-{i}.json") for i in range(2)]
    for p, c in zip(both, parts):
        Path(p).write_text(json.dumps({**c, **other}))
    assert main([",".join(both), ",".join(both)])["other"]["subject_top1"]["n"] == 4
