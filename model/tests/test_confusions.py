"""confusions: every prompt is a hit, a miss the judge also makes on the real render, or a miss that is
the model's alone, for the subject and for the style; only the model's misses are listed as confusions.
drawn_subjects chooses among the vocabulary exactly as evaluate.score's subject_top1_vocab does, and
drawn_styles reads the style as its style does."""
import torch

from flowfill.classifier import FlowfillClassifier
from flowfill.confusions import confusion_report, drawn_styles, drawn_subjects, style_report
from flowfill.evaluate import real_renders, score
from flowfill.run import train_subject_ids


def test_each_prompt_is_a_hit_a_judge_miss_or_a_model_miss(data):
    p = data.eval_sets["v1_emoji"][:4]
    a, b, c, d = (q["subject"] for q in p)
    other = next(i for i in range(len(data.subjects)) if i not in (a, b, c, d))
    # 0: hit; 1: the model drew `other`, the judge reads the real one right; 2: the judge misreads both;
    # 3: the model drew `other` again, read right on the real one.
    out = confusion_report(data, p, generated=[a, other, other, other], real=[a, b, other, d])
    counts = [dict(v) for v in out["by_style"].values()]
    assert sum(c.get("n", 0) for c in counts) == 4
    assert sum(c.get("hit", 0) for c in counts) == 1
    assert sum(c.get("judge_miss", 0) for c in counts) == 1
    assert sum(c.get("model_miss", 0) for c in counts) == 2
    label = lambda i: data.subjects[i]["label"]  # noqa: E731
    listed = {(x["asked"], x["drawn"]): x["n"] for x in out["confusions"]}
    assert listed == ({(label(b), label(other)): 1, (label(d), label(other)): 1} if b != d else {(label(b), label(other)): 2})


def test_drawn_subjects_agree_with_the_evaluations_top1_among_the_vocabulary(data):
    torch.manual_seed(0)
    clf = FlowfillClassifier(len(data.subjects), len(data.styles)).to(data.device).eval()
    prompts = data.eval_sets["icons"][:16]
    vocabulary = train_subject_ids(data, "core")
    images = real_renders(data, prompts, 128, 128, seed=3)
    drawn = drawn_subjects(clf, images, vocabulary)
    assert set(drawn) <= set(vocabulary)
    # Asked for what drawn_subjects read, the evaluation must count every image a hit (an untrained judge
    # would make the plain comparison all misses on both sides).
    as_read = [dict(q, subject=g) for q, g in zip(prompts, drawn)]
    assert score(data, clf, images, as_read, vocabulary)["subject_top1_vocab"] == [1.0] * len(prompts)


def test_styles_split_the_same_way_and_read_as_the_evaluation_reads_them(data):
    p = data.eval_sets["v1_emoji"][:3]
    asked = [q["style"] for q in p]
    wrong = [(s + 1) % len(data.styles) for s in asked]
    # 0: hit; 1: the model's miss (the real render read right); 2: the judge misreads both.
    out = style_report(data, p, generated=[asked[0], wrong[1], wrong[2]], real=[asked[0], asked[1], wrong[2]])
    counts = [dict(v) for v in out["style_by_style"].values()]
    assert [sum(c.get(k, 0) for c in counts) for k in ("n", "hit", "model_miss", "judge_miss")] == [3, 1, 1, 1]
    assert out["style_confusions"] == [{"asked": data.styles[asked[1]], "drawn": data.styles[wrong[1]], "n": 1}]

    torch.manual_seed(0)
    clf = FlowfillClassifier(len(data.subjects), len(data.styles)).to(data.device).eval()
    prompts = data.eval_sets["icons"][:16]
    images = real_renders(data, prompts, 128, 128, seed=3)
    as_read = [dict(q, style=s) for q, s in zip(prompts, drawn_styles(clf, images))]
    assert score(data, clf, images, as_read, train_subject_ids(data, "core"))["style"] == [1.0] * len(prompts)


def test_no_vocabulary_means_every_subject(data):
    """--train-subjects all gives no subset (None): the judge's plain top-1 over all subjects, as score's subject_top1."""
    torch.manual_seed(0)
    clf = FlowfillClassifier(len(data.subjects), len(data.styles)).to(data.device).eval()
    prompts = data.eval_sets["emoji"][:8]
    images = real_renders(data, prompts, 128, 128, seed=3)
    drawn = drawn_subjects(clf, images, None)
    as_read = [dict(q, subject=g) for q, g in zip(prompts, drawn)]
    assert score(data, clf, images, as_read)["subject_top1"] == [1.0] * len(prompts)
