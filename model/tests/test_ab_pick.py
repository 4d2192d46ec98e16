import json

import pytest

from flowfill.ab_pick import main, pick


def result(top1_vocab, style=0.8, background=1.0, **extra):
    return {"subject_top1": top1_vocab / 2, "subject_top1_vocab": top1_vocab, "style": style, "background": background, **extra}


def report(**results):
    return {"results": results}


def test_the_winner_is_scored_on_the_held_out_sets_all_arms_share_and_never_on_seen():
    a = report(**{"v1_emoji@256": result(0.70), "icons@256": result(0.30, icon_colour=1.0),
                  "seen@256": result(0.99), "paraphrases@256": result(0.9)})
    b = report(**{"v1_emoji@256": result(0.76), "icons@256": result(0.28, icon_colour=1.0)})
    winner, scores = pick({"a": a, "b": b})
    assert winner == "b"  # a's better seen and its extra set do not count
    assert set(scores["a"]) == {"v1_emoji@256", "icons@256", "score"}
    # selection_score on subject top-1 among the trained vocabulary: 0.76 + 0.5 + 0.2 and 0.28 + 0.5 + 0.2 + 0.25
    assert scores["b"]["score"] == pytest.approx((1.46 + 1.23) / 2)


def test_arms_without_a_shared_held_out_set_are_refused():
    with pytest.raises(ValueError):
        pick({"a": report(**{"v1_emoji@256": result(0.7)}), "b": report(**{"icons@256": result(0.3)})})


def test_main_writes_the_scores_and_prints_the_winner_last(tmp_path, capsys):
    paths = []
    for name, top1 in (("control", 0.70), ("low", 0.74)):
        p = tmp_path / f"{name}.json"
        p.write_text(json.dumps(report(**{"v1_emoji@256": result(top1)})))
        paths.append(f"{name}={p}")
    main(paths + ["--out", str(tmp_path / "ab.json")])
    assert capsys.readouterr().out.splitlines()[-1] == "low"
    assert json.loads((tmp_path / "ab.json").read_text())["winner"] == "low"
