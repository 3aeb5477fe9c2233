"""Token vocabularies for translation: characters for Chinese, SentencePiece subwords for English.

Chinese needs no segmenter at this size: about 3,800 characters cover Tatoeba, and a character model
never meets an out-of-vocabulary word. English uses a SentencePiece unigram model trained on the training
split's English only, so rare words become pieces instead of `<unk>`. Both vocabularies serialise to
plain JSON (the SentencePiece model as base64) and travel in the model card beside the weights.

Ids 0-3 are the same in both: <pad>, <unk>, <bos>, <eos>.
"""

from __future__ import annotations

import base64
import io
from collections import Counter
from collections.abc import Iterable

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIALS = ("<pad>", "<unk>", "<bos>", "<eos>")


class SourceVocab:
    """Characters seen at least `min_count` times in training; the rest map to <unk>."""

    def __init__(self, chars: list[str]):
        self.itos = list(SPECIALS) + [c for c in chars if c not in SPECIALS]
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 2) -> SourceVocab:
        counts = Counter(c for t in texts for c in t if not c.isspace())
        return cls(sorted(c for c, n in counts.items() if n >= min_count))

    def __len__(self) -> int:
        return len(self.itos)

    def tokens(self, text: str) -> list[str]:
        return [c for c in text if not c.isspace()]

    def encode(self, text: str) -> list[int]:
        return [self.stoi.get(c, UNK) for c in self.tokens(text)]

    def to_dict(self) -> dict:
        return {"kind": "chars", "chars": self.itos[len(SPECIALS):]}

    @classmethod
    def from_dict(cls, d: dict) -> SourceVocab:
        return cls(list(d["chars"]))


class TargetVocab:
    """A SentencePiece model held as bytes (no file on disk)."""

    def __init__(self, model_proto: bytes):
        import sentencepiece as spm

        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)

    @classmethod
    def build(cls, texts: Iterable[str], vocab_size: int = 4000) -> TargetVocab:
        import sentencepiece as spm

        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(list(texts)), model_writer=buf, vocab_size=vocab_size, model_type="unigram",
            character_coverage=1.0, pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS,
            pad_piece="<pad>", unk_piece="<unk>", bos_piece="<bos>", eos_piece="<eos>",
            num_threads=1, minloglevel=2, hard_vocab_limit=False,
        )
        return cls(buf.getvalue())

    def __len__(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([int(i) for i in ids if int(i) > EOS])

    def pieces(self) -> list[str]:
        return [self.sp.id_to_piece(i) for i in range(len(self))]

    def piece(self, i: int) -> str:
        return self.sp.id_to_piece(int(i))

    def to_dict(self) -> dict:
        return {"kind": "sentencepiece", "model": base64.b64encode(self.proto).decode("ascii")}

    @classmethod
    def from_dict(cls, d: dict) -> TargetVocab:
        return cls(base64.b64decode(d["model"]))
