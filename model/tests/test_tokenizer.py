import json

from flowfill.tokenizer import CaptionTokenizer


def test_python_tokeniser_matches_the_node_builder(data_dir):
    tok = CaptionTokenizer.from_dir(data_dir)
    examples = json.loads((data_dir / "manifest.json").read_text())["tokenizer"]["examples"]
    assert len(examples) >= 4
    for ex in examples:
        assert tok.encode(ex["text"]) == ex["ids"], ex["text"]


def test_unknown_words_padding_and_truncation(data_dir):
    tok = CaptionTokenizer.from_dir(data_dir)
    ids = tok.encode("zzzunknown")
    assert ids[:3] == [tok.bos_id, tok.unk_id, tok.eos_id] and set(ids[3:]) == {tok.pad_id}
    long = tok.encode(" ".join(["flat"] * 100))
    assert len(long) == tok.max_length and long[-1] == tok.eos_id
    assert tok.encode("") == [tok.bos_id, tok.eos_id] + [tok.pad_id] * (tok.max_length - 2)
