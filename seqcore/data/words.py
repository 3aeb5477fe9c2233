"""Word-level tokeniser and a vocabulary built from training texts only.

Tokens are lower-cased words (letters of any script and digits, with an inner apostrophe kept:
"don't", "film's") and single punctuation or symbol characters ("!", "?", an emoji), so
"Great!!" -> ["great", "!", "!"]. Words the vocabulary has not seen map to <unk>.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import torch

PAD, UNK = "<pad>", "<unk>"
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """'It wasn't GOOD.' -> ['it', "wasn't", 'good', '.']"""
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


@dataclass
class Vocab:
    """Token <-> id; id 0 is padding, id 1 unknown. Build it with Vocab.build on training texts."""

    itos: list[str] = field(default_factory=lambda: [PAD, UNK])

    def __post_init__(self):
        self.stoi = {t: i for i, t in enumerate(self.itos)}

    @classmethod
    def build(cls, texts: Iterable[str], max_size: int = 20000, min_freq: int = 2) -> Vocab:
        """The max_size - 2 most frequent tokens seen at least min_freq times (ties: alphabetical)."""
        counts = Counter(tok for text in texts for tok in tokenize(text))
        kept = sorted((t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t))
        return cls([PAD, UNK, *kept[: max(0, max_size - 2)]])

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.stoi.get(t, 1) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] if 0 <= i < len(self.itos) else UNK for i in ids]

    def to_dict(self) -> dict:
        return {"itos": self.itos}

    @classmethod
    def from_dict(cls, d: dict) -> Vocab:
        return cls(list(d["itos"]))


def pad_batch(seqs: list[list[int]], pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Ragged id lists -> ids (B, T_max) int64 right-padded, lengths (B,) int64 (each at least 1)."""
    lengths = torch.tensor([max(1, len(s)) for s in seqs], dtype=torch.long)
    ids = torch.full((len(seqs), int(lengths.max()) if seqs else 1), pad_id, dtype=torch.long)
    for i, s in enumerate(seqs):
        if s:
            ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
    return ids, lengths
