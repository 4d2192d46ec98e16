"""flowfill.ship_rule: the ship rule over a candidate's checks and the shipped model's, from the JSONs alone."""
import json

import numpy as np
import pytest

from flowfill.paired import check_name, paired_differences
from flowfill.ship_rule import REQUIRED, main, pooled

N = 40  # images a check: enough for standard errors, small enough to write by hand


def check(which, seed_index, subject, whole=None, style_ok=None, device="cuda", guidance=2.5, style_rate=0.92, fd=50.0):
    name, size, aspect, style = which
    n = len(subject)
    result = {"model": "m", "device": device, "set": name, "size": size, "aspect": aspect, "steps": 10, "seeds": 1,
              "seed_index": seed_index, "limit": None, "sampler": {"shift": 6.0, "guidance": guidance},
              "scores": {"n": n, "style": style_rate, "frechet_distance": fd,
                         "per_image": {"subject_top1_vocab": list(subject), "whole_centred_single": list(whole or [1] * n),
                                       "style": list(style_ok or [1] * n)}}}
    if style:
        result["style"] = style
    return result


def write(folder, label, result):
    (folder / f"{label}-{check_name(result)}.json").write_text(json.dumps(result))


def level(n=N, hits=30):
    return [1] * hits + [0] * (n - hits)


def complete(folder, label, seed_index=5, over=None):
    """`label`'s check of every required set at `seed_index`, and the 512² icons at seed index 20; `over` replaces
    sets' per-image subject results."""
    for which in REQUIRED:
        write(folder, label, check(which, seed_index, (over or {}).get(which, level())))
    write(folder, label, check(("icons", 512, "1:1", None), 20, level()))


def run(folder, *extra):
    return main([str(folder), "cand", "shipped", *extra])


def test_a_candidate_level_on_every_required_set_ships(tmp_path):
    complete(tmp_path, "shipped")
    complete(tmp_path, "cand")
    got = run(tmp_path)
    assert got["ships"] and got["refusals"] == [] and got["missing"] == []
    assert len(got["pairs"]) == len(REQUIRED) + 1


def test_a_set_lower_by_more_than_a_standard_error_refuses_and_a_larger_check_of_it_is_pooled(tmp_path):
    one = ("v1_emoji", 512, "1:4", None)
    complete(tmp_path, "shipped")
    complete(tmp_path, "cand", over={one: [0] * 6 + [1] * 24 + [0] * 10})  # 6 of the shipped side's 30 hits lost
    got = run(tmp_path)
    assert not got["ships"] and len(got["refusals"]) == 1 and "v1_emoji 512² 1:4" in got["refusals"][0]
    # The same set again at fresh seeds, four times the images, 4 of them gained: pooled, −6 + 4 of 200 images is
    # −1.0 ± 1.6 points, within one standard error; the first check alone read −15.0 ± 5.7.
    write(tmp_path, "shipped", check(one, 20, level(160, 120)))
    write(tmp_path, "cand", check(one, 20, level(160, 124)))
    got = run(tmp_path)
    assert got["refusals"] == [] and got["ships"]
    judged = next(j for j in got["sets"] if j["set"] == "v1_emoji 512² 1:4")
    assert len(judged["checks"]) == 2 and judged["n"] == 200 and judged["subject_top1_vocab"] == [-1.0, 1.6]
    assert [p["check"] for p in got["pairs"]].count(f"{check_name(check(one, 20, level(160)))}.json") == 1


def test_the_layout_is_judged_on_the_seed_index_asked(tmp_path):
    icons512 = ("icons", 512, "1:1", None)
    complete(tmp_path, "shipped")
    complete(tmp_path, "cand")
    torn = [0] * 8 + [1] * (N - 8)
    write(tmp_path, "cand", check(icons512, 5, level(), whole=torn))  # lower at the seeds the shipped state was picked on
    assert run(tmp_path)["ships"]
    got = run(tmp_path, "--layout-seed-index", "5")
    assert not got["ships"] and "one whole subject" in got["refusals"][0]
    # No check at the seed index asked: the clause cannot be judged.
    got = run(tmp_path, "--layout-seed-index", "7")
    assert not got["ships"] and got["refusals"] == [] and "seed index 7" in got["missing"][0]


def test_a_required_set_missing_or_checked_only_on_the_cpu_is_incomplete(tmp_path):
    thin = ("icons", 256, "1:1", "thin")
    complete(tmp_path, "shipped")
    complete(tmp_path, "cand")
    (tmp_path / f"cand-{check_name(check(thin, 5, level()))}.json").unlink()
    got = run(tmp_path)
    assert not got["ships"] and got["refusals"] == [] and got["missing"] == ["icons thin 256²"]
    for label in ("shipped", "cand"):
        write(tmp_path, label, check(thin, 5, level(), device="cpu"))
    assert run(tmp_path)["missing"] == ["icons thin 256²"]


def test_v1_emoji_style_and_fd_bound_the_candidate(tmp_path):
    emoji = ("v1_emoji", 256, "1:1", None)
    complete(tmp_path, "shipped")
    complete(tmp_path, "cand")
    write(tmp_path, "cand", check(emoji, 5, level(), style_rate=0.895, fd=101.5))
    got = run(tmp_path)
    assert not got["ships"] and len(got["refusals"]) == 2
    assert "style 89.5 %" in got["refusals"][0] and "FD 101.5" in got["refusals"][1]


def test_only_the_guidance_asked_and_only_the_candidates_own_label(tmp_path):
    emoji = ("v1_emoji", 256, "1:1", None)
    complete(tmp_path, "shipped")
    complete(tmp_path, "cand")
    for label, hits in (("shipped", 30), ("cand", 20)):
        write(tmp_path, label, check(emoji, 5, level(hits=hits), guidance=2.0))
    # Labels that begin with the candidate's and the shipped model's name other states: "cand-b-<check>" is not the
    # candidate's check "b-<check>", though "shipped-b-<check>" exists.
    for label, hits in (("shipped-b", 30), ("cand-b", 0)):
        write(tmp_path, label, check(emoji, 5, level(hits=hits)))
    assert not run(tmp_path)["ships"]
    got = run(tmp_path, "--guidance", "2.5")
    assert got["ships"] and len(got["pairs"]) == len(REQUIRED) + 1


def test_pooled_is_the_concatenated_differences():
    rng = np.random.default_rng(0)
    parts, mine, theirs = [], [], []
    for n in (40, 160, 7):
        a, b = rng.integers(0, 2, n), rng.integers(0, 2, n)
        mine.append(a)
        theirs.append(b)
        parts.append(paired_differences(check(("v1_emoji", 256, "1:1", None), 0, a), check(("v1_emoji", 256, "1:1", None), 0, b))["subject_top1_vocab"])
    whole = paired_differences(check(("v1_emoji", 256, "1:1", None), 0, np.concatenate(mine)),
                               check(("v1_emoji", 256, "1:1", None), 0, np.concatenate(theirs)))["subject_top1_vocab"]
    got = pooled(parts)
    assert got["n"] == whole["n"] == 207
    assert got["difference"] == pytest.approx(whole["difference"])
    assert got["standard_error"] == pytest.approx(whole["standard_error"])
