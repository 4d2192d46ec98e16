"""Caption tokeniser: the same rule as the tokenizer.json built by model/data/build-dataset.mjs.

tokenizer.json is a WordPiece model over whole words (so an unknown word is one <unk>), with a
Lowercase normaliser and BertPreTokenizer (split on whitespace and on each punctuation character).
ids = <bos> words <eos>, cut to model_max_length keeping <eos> last, then <pad> to model_max_length.
"""
import json
import re
from pathlib import Path

_WORDS = re.compile(r"[a-z0-9]+|[^a-z0-9\s]")


class CaptionTokenizer:
    def __init__(self, tokenizer_json: dict, model_max_length: int):
        self.vocab: dict[str, int] = tokenizer_json["model"]["vocab"]
        self.max_length = model_max_length
        self.pad_id = self.vocab["<pad>"]
        self.unk_id = self.vocab["<unk>"]
        self.bos_id = self.vocab["<bos>"]
        self.eos_id = self.vocab["<eos>"]

    @classmethod
    def from_dir(cls, directory: str | Path) -> "CaptionTokenizer":
        directory = Path(directory)
        config = json.loads((directory / "tokenizer_config.json").read_text())
        return cls(json.loads((directory / "tokenizer.json").read_text()), config["model_max_length"])

    def encode(self, text: str) -> list[int]:
        ids = [self.vocab.get(w, self.unk_id) for w in _WORDS.findall(text.lower())][: self.max_length - 2]
        ids = [self.bos_id, *ids, self.eos_id]
        return ids + [self.pad_id] * (self.max_length - len(ids))

    def __len__(self) -> int:
        return len(self.vocab)
