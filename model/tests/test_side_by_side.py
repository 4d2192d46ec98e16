"""side_by_side: each column's prompt, the subject asked, and what the judge read from the render and from the
model's image, recognised only where the image was read as the subject asked."""
import pytest

from flowfill.side_by_side import main, readings


def test_each_prompt_reads_as_the_judge_read_its_render_and_its_image(data):
    prompts = data.eval_sets["icons"][:3]
    a, b, c = (p["subject"] for p in prompts)
    other = next(i for i in range(len(data.subjects)) if i not in (a, b, c))
    rows = readings(data, prompts, real=[a, b, other], drawn=[a, other, c])
    label = lambda i: data.subjects[i]["label"]  # noqa: E731
    assert [r["recognised"] for r in rows] == [True, False, True]
    assert [r["image_read_as"] for r in rows] == [label(a), label(other), label(c)]
    assert [r["render_read_as"] for r in rows] == [label(a), label(b), label(other)]
    assert [r["asked"] for r in rows] == [label(a), label(b), label(c)] and rows[0]["prompt"] == prompts[0]["text"]


def test_an_unknown_style_is_refused_before_any_model_is_loaded(data_dir, tmp_path):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "no-state"), "--data", str(data_dir), "--style", "hairline", "-o", str(tmp_path / "x.png")])
