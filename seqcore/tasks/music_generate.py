"""Writing tunes with a char model: a prime in, one sampled character at a time out (one-to-many).

The model runs through seqcore.generate.LMStepper (the LSTM carries its state, the Transformer a KV cache
with a sliding window), so each new character costs O(1) work in the length so far; sample_token does the
temperature, top-k and nucleus sampling. Meter-aware decoding (music_meter) masks, before each draw, the
characters that would break the bar or the ABC grammar. Every tune gets music_abc.bar_check's verdict.

Confidence: for each generated character, the probability it had in the distribution it was drawn from
(after the meter mask, the temperature and top-k / top-p: what sample_token sampled) and that distribution's
entropy in bits. music_confidence maps them onto the played notes.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field

import torch

from seqcore.data.music import SEP
from seqcore.errors import InputError
from seqcore.generate import LMStepper, next_distribution, sample_token
from seqcore.tasks.music_abc import bar_check
from seqcore.tasks.music_meter import MIN_TUNE_BARS, BarTracker, mask_for

DEFAULT_TEMPERATURE = 0.8
NOTE_LETTERS = set("ABCDEFGabcdefgzxZ")
DECORATION_LETTERS = set("HJLMOPRSTuvy")


def check_prime(lm, prime: str) -> str:
    """The prime, normalised; InputError when it cannot be the start of an ABC tune. lm: a music.CharLM."""
    prime = (prime or "").replace("\r\n", "\n").replace("\t", " ")
    if len(prime) > 2000:
        raise InputError("the prime is longer than 2,000 characters: give the start of a tune")
    body = "\n".join(line for line in prime.split("\n") if not re.match(r"^[A-Za-z]:", line))
    strange = sorted({c for c in body if c.isalpha() and c not in NOTE_LETTERS | DECORATION_LETTERS})
    if strange:
        raise InputError(f"the prime does not read as ABC: letters {', '.join(strange)} are not notes "
                         "(use A-G, a-g, z for rests, and header lines like M:6/8, K:D)")
    lm.encode(prime)  # raises on characters the model never saw
    return prime


@dataclass
class Generation:
    abc: str             # prime + generated characters
    prime: str
    n_new: int
    seconds: float
    ended: bool          # the model closed the tune itself (blank line)
    constrained: bool = False  # meter-aware decoding was on
    bars_matching: int = 0     # bar_check on the whole tune: bars whose length fits the meter ...
    bars_total: int = 0        # ... of the bars that hold notes
    probs: list[float] = field(default_factory=list)    # per generated character: its probability when drawn, (0, 1]
    entropy: list[float] = field(default_factory=list)  # per generated character: entropy (bits) of that draw

    @property
    def char_probs(self) -> list[float | None]:
        """One entry per character of `abc`: None for the prime, else the probability the character was drawn
        with (a tune the model ended drops its closing blank line, so the list is cut to the text)."""
        return ([None] * len(self.prime) + list(self.probs))[: len(self.abc)]

    @property
    def chars_per_second(self) -> float:
        return self.n_new / max(1e-9, self.seconds)


@torch.inference_mode()
def generate(lm, prime: str = "", length: int = 400, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, seed: int = 0,
             stop_at_end: bool = True, constrain: bool = True) -> Generation:
    """Sample up to `length` characters after `prime` with a music.CharLM; the same seed gives the same tune.

    constrain: meter-aware decoding (music_meter). Before each character, the characters that would
    overfill the bar, close it early (all but a pick-up first bar), break the ABC grammar, or end the
    tune before it has MIN_TUNE_BARS whole bars get probability 0, so the model's distribution is
    renormalised over the allowed continuations; when nothing is allowed (a prime that cannot be
    completed), nothing is masked. False: the raw model.
    """
    if not 1 <= length <= 5000:
        raise InputError("length must be between 1 and 5,000 characters")
    if not 0.05 <= temperature <= 5:
        raise InputError("temperature must be between 0.05 and 5")
    prime = check_prime(lm, prime)
    lm.model.eval()
    gen = torch.Generator().manual_seed(int(seed))
    t0 = time.perf_counter()
    step = LMStepper(lm.model, lm.seq_len)
    out = step_out = step.feed(lm.encode(SEP + SEP + prime).tolist())  # (V,) logits of the next character
    new: list[int] = []
    probs: list[float] = []
    entropy: list[float] = []
    last = prime[-1:] if prime else SEP
    ended = False
    sep_id = lm.index[SEP]
    wrote_notes = False
    tracker = BarTracker(prime, min_bars=MIN_TUNE_BARS) if constrain else None
    mask = mask_for("".join(lm.vocab)) if constrain else None
    for _ in range(length):
        if tracker is not None:
            banned = mask.banned(tracker)
            if banned is not None:
                out = out.clone()
                out[banned] = float("-inf")
        if last == SEP and not wrote_notes:
            out = out.clone()
            out[sep_id] = float("-inf")  # a blank line would end the tune before it has begun
            if tracker is not None and torch.isinf(out).all():
                out = step_out.clone()
                out[sep_id] = float("-inf")
        dist = next_distribution(out, temperature=temperature, top_k=top_k, top_p=top_p)  # computed once: drawn
        nxt = sample_token(out, gen, probs=dist)                                            # from and recorded
        probs.append(float(dist[nxt]))
        entropy.append(float(torch.special.entr(dist).sum()) / math.log(2))
        new.append(nxt)
        if stop_at_end and nxt == sep_id and last == SEP:
            ended = True
            break
        last = lm.vocab[nxt]
        wrote_notes = wrote_notes or last in NOTE_LETTERS
        if tracker is not None:
            tracker.push(last)
        out = step_out = step.feed([nxt])
    text = prime + lm.decode(new)
    if ended:
        text = text.rstrip("\n") + "\n"
    seconds = time.perf_counter() - t0
    bars = bar_check(text)
    return Generation(text, prime, len(new), seconds, ended, constrain, bars.matching, bars.bars, probs, entropy)


def bar_stats(lm, n: int, *, constrain: bool, seed: int = 0, length: int = 600, tunes: list | None = None) -> dict:
    """The bar check over n seeded tunes (no prime, DEFAULT_TEMPERATURE, seeds seed..seed+n-1): the share of
    tunes with at least 8 bars of the right length, the share of bars of the right length, characters per second.
    tunes: a list that receives the sampled texts (for other measures of the same samples)."""
    good = bars = matching = chars = 0
    seconds = 0.0
    for i in range(n):
        g = generate(lm, "", length=length, temperature=DEFAULT_TEMPERATURE, seed=seed + i, constrain=constrain)
        if tunes is not None:
            tunes.append(g.abc)
        good += g.bars_matching >= 8
        bars, matching = bars + g.bars_total, matching + g.bars_matching
        chars, seconds = chars + g.n_new, seconds + g.seconds
    return {"tunes_with_8_matching_bars": round(good / max(1, n), 3),
            "bar_match_share": round(matching / max(1, bars), 3),
            "chars_per_second": round(chars / max(seconds, 1e-9))}
