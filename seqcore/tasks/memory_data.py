"""The memory lab's two tasks (many-to-one), both measured against a `distance`.

Recall: how far back can a model recall a cue?

A few key/value pairs, then `distance` distractor tokens, then a query marker and one of the keys; the
model must answer that key's value.

    filler ... k1 v1 [k2 v2 ...]  d_1 d_2 ... d_distance  ?  k_q   ->  v_q

Distractors are drawn from the value tokens as well as from their own tokens, so a model cannot
just keep "the value it saw": it must keep the one that followed the key, and not overwrite it.

Every sequence of a task has the same length (filler distractors pad the front), so models see one
shape and the Transformer one position range. Held-out sets use a different seed from training.

Parity: is the number of 1s in a stream of `distance` bits odd? (filler dots pad the front.)

    . . . . 1 0 0 1 1 ... 0 ?   ->  1 (odd) or 0 (even)

Nothing is to be found and copied here: every bit counts, and the answer flips with each 1. An RNN
carries one flip-flop bit forward; attention averages, and the parity of a count is hard to read
from an average (the task where the ordering of recall can change).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch.utils.data import TensorDataset

from seqcore.errors import InputError

MAX_DISTANCE = 200


@dataclass(frozen=True)
class RecallTask:
    """Vocabulary and shape of the recall task. Token ids: keys, then values, then distractors, then '?'."""

    max_distance: int = 100
    n_pairs: int = 1
    n_keys: int = 8
    n_values: int = 8
    n_distractors: int = 8
    values_in_noise: bool = True  # distractors are drawn from the values too, so "the one value seen" is no shortcut
    kind = "recall"  # a class constant, not a field: which task this is (to_dict records it)

    def __post_init__(self):
        if not 1 <= self.n_pairs <= self.n_keys:
            raise InputError(f"n_pairs must be between 1 and n_keys ({self.n_keys}), got {self.n_pairs}")
        if not 0 <= self.max_distance <= MAX_DISTANCE:
            raise InputError(f"the longest distance must be between 0 and {MAX_DISTANCE}, got {self.max_distance}")
        if self.n_keys > 26 or self.n_values > 10 or self.n_distractors > 26:
            raise InputError("at most 26 keys, 10 values and 26 distractors (one character each)")

    @classmethod
    def from_dict(cls, d: dict) -> RecallTask:
        """The task of to_dict() (its derived fields, seq_len and the like, are left out)."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def seq_len(self) -> int:
        return 2 * self.n_pairs + self.max_distance + 2

    @property
    def vocab_size(self) -> int:
        return self.n_keys + self.n_values + self.n_distractors + 1

    @property
    def query_id(self) -> int:
        return self.vocab_size - 1

    @property
    def chance(self) -> float:
        """Accuracy of guessing a value uniformly: the baseline every curve is drawn against."""
        return 1.0 / self.n_values

    def tokens(self) -> list[str]:
        """Labels per token id: keys 'A'.., values '0'.., distractors 'a'.., then '?'."""
        return ([chr(ord("A") + i) for i in range(self.n_keys)] + [str(i) for i in range(self.n_values)]
                + [chr(ord("a") + i) for i in range(self.n_distractors)] + ["?"])

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self), "seq_len": self.seq_len, "vocab_size": self.vocab_size,
                "chance": self.chance}

    def describe(self) -> str:
        return (f"{self.n_pairs} key/value pair(s), {self.n_keys} keys, {self.n_values} values (chance "
                f"{self.chance:.3f}), distractors drawn from {self.n_distractors} noise tokens"
                f"{' and the values' if self.values_in_noise else ''}, sequences of {self.seq_len} tokens")


@dataclass(frozen=True)
class ParityTask:
    """The parity of a stream of up to max_distance bits. Token ids: '0', '1', '.' (filler), '?'."""

    max_distance: int = 100
    kind = "parity"
    n_values = 2  # the answer: 0 (even) or 1 (odd)

    def __post_init__(self):
        if not 0 <= self.max_distance <= MAX_DISTANCE:
            raise InputError(f"the longest stream must be between 0 and {MAX_DISTANCE} bits, got {self.max_distance}")

    @classmethod
    def from_dict(cls, d: dict) -> ParityTask:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def seq_len(self) -> int:
        return self.max_distance + 1

    @property
    def vocab_size(self) -> int:
        return 4

    @property
    def query_id(self) -> int:
        return 3

    @property
    def chance(self) -> float:
        return 0.5

    def tokens(self) -> list[str]:
        return ["0", "1", ".", "?"]

    def to_dict(self) -> dict:
        return {"kind": self.kind, **asdict(self), "seq_len": self.seq_len, "vocab_size": self.vocab_size,
                "chance": self.chance}

    def describe(self) -> str:
        return (f"the parity of a stream of random bits (chance {self.chance:.1f}), filler dots in front, "
                f"sequences of {self.seq_len} tokens; the distance is the number of bits")


Task = RecallTask | ParityTask
KINDS = {"recall": RecallTask, "parity": ParityTask}


def make_task(kind: str, max_distance: int) -> Task:
    """The task called `kind` (recall | parity), up to max_distance; InputError names the known kinds."""
    if kind not in KINDS:
        raise InputError(f"task must be one of {', '.join(KINDS)}; got {kind!r}")
    return KINDS[kind](max_distance=max_distance)


def task_from_dict(d: dict) -> Task:
    """The task of a to_dict() (a dict without 'kind' is a recall task, as older files wrote them)."""
    return KINDS[d.get("kind", "recall")].from_dict(d)


def parse_distances(text: str | list | tuple, max_distance: int = MAX_DISTANCE) -> list[int]:
    """'5,10,20' -> [5, 10, 20] (sorted, unique); InputError saying what to change otherwise."""
    items = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    out = []
    for item in items:
        s = str(item).strip()
        if not s:
            continue
        try:
            d = int(s)
        except ValueError:
            shown = repr(s) if len(s) <= 30 else repr(s[:30]) + f"... ({len(s):,} characters)"
            raise InputError(f"distances must be whole numbers separated by commas, e.g. 5,10,20; "
                             f"got {shown}") from None
        if not 0 <= d <= max_distance:
            raise InputError(f"each distance must be between 0 and {max_distance}; got {d}")
        out.append(d)
    if not out:
        raise InputError("give at least one distance, e.g. 5,10,20,50,100")
    return sorted(set(out))


def make_batch(task: Task, n: int, distances: int | list[int] | None = None,
               seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n examples: x (n, seq_len) int64 tokens, y (n,) answer index in [0, n_values), d (n,) distance.

    distances: one int, a list to draw from uniformly, or None for 0..max_distance drawn
    log-uniformly (as many examples in 1..10 as in 10..100), so short ones, which teach the
    mechanism, are common while every longer distance is still seen in training.
    """
    g = torch.Generator().manual_seed(seed)
    if distances is None:
        u = torch.rand(n, generator=g) * math.log(task.max_distance + 2)
        d = (torch.exp(u).floor().long() - 1).clamp(0, task.max_distance)
    else:
        choices = torch.tensor([distances] if isinstance(distances, int) else list(distances))
        if choices.numel() == 0 or choices.min() < 0 or choices.max() > task.max_distance:
            raise InputError(f"distances must lie in 0..{task.max_distance} for this task")
        d = choices[torch.randint(0, len(choices), (n,), generator=g)]
    if isinstance(task, ParityTask):
        return (*_parity(task, n, d, g), d)
    t, p = task.seq_len, task.n_pairs
    low = task.n_keys if task.values_in_noise else task.n_keys + task.n_values
    x = torch.randint(low, task.n_keys + task.n_values + task.n_distractors, (n, t), generator=g)
    keys = torch.rand(n, task.n_keys, generator=g).argsort(dim=1)[:, :p]  # distinct keys per example
    values = torch.randint(0, task.n_values, (n, p), generator=g)
    start = t - 2 - d - 2 * p  # the pairs end `d` tokens before the query marker
    rows = torch.arange(n)[:, None]
    x[rows, start[:, None] + 2 * torch.arange(p)] = keys
    x[rows, start[:, None] + 2 * torch.arange(p) + 1] = task.n_keys + values
    q = torch.randint(0, p, (n,), generator=g)
    x[:, t - 2] = task.query_id
    x[:, t - 1] = keys[torch.arange(n), q]
    y = values[torch.arange(n), q]
    return x, y, d


def _parity(task: ParityTask, n: int, d: torch.Tensor, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, seq_len): dots, then d[i] random bits, then '?'; y (n,): the parity of those bits."""
    t = task.seq_len
    bits = torch.randint(0, 2, (n, t - 1), generator=g)
    in_stream = torch.arange(t - 1)[None, :] >= (t - 1 - d)[:, None]  # the last d positions before '?'
    x = torch.where(in_stream, bits, torch.full_like(bits, 2))
    y = (bits * in_stream).sum(dim=1) % 2
    return torch.cat([x, torch.full((n, 1), task.query_id)], dim=1), y


def datasets(task: Task, n_train: int, n_val: int, seed: int = 0) -> tuple[TensorDataset, TensorDataset]:
    """(train, validation) of (x (N, seq_len), y (N,)) at log-uniform distances; validation from another seed."""
    x, y, _ = make_batch(task, n_train, None, seed=seed)
    xv, yv, _ = make_batch(task, n_val, None, seed=seed + 1_000)
    return TensorDataset(x, y), TensorDataset(xv, yv)


def decode(task: Task, x: torch.Tensor) -> str:
    """(T,) token ids -> 'a c A 3 b ... ? A'."""
    labels = task.tokens()
    return " ".join(labels[int(i)] for i in x)


def encode(task: Task, text: str) -> torch.Tensor:
    """'A 3 a b c ? A' (space-separated, or one character per token) -> (T,) ids; InputError if unknown."""
    labels = {s: i for i, s in enumerate(task.tokens())}
    parts = text.split() if " " in text.strip() else list(text.strip())
    bad = sorted({p for p in parts if p not in labels})
    if (bad or not parts) and isinstance(task, ParityTask):
        raise InputError(f"unknown tokens {bad[:5]}: use bits 0 and 1, the filler '.' and '?'")
    if bad or not parts:
        raise InputError(f"unknown tokens {bad[:5]}: use keys A-{task.tokens()[task.n_keys - 1]}, values 0-"
                         f"{task.n_values - 1}, distractors a-{task.tokens()[-2]} and '?'")
    if len(parts) > task.seq_len:
        raise InputError(f"at most {task.seq_len} tokens for this model; got {len(parts)}")
    return torch.tensor([labels[p] for p in parts])
