"""A character n-gram language model with Witten-Bell back-off: the floor a neural model must beat.

P(c | h) = (C(h c) + N1+(h .) * P(c | h')) / (C(h) + N1+(h .)), where h' drops the oldest
character and the recursion ends in an add-one unigram. Normalised, so its bits per character
compare directly with a network's cross-entropy.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict


class CharNGram:
    def __init__(self, order: int = 5):
        self.order = order
        self.counts: list[dict[str, Counter]] = [defaultdict(Counter) for _ in range(order)]
        self.vocab: set[str] = set()

    def fit(self, text: str) -> CharNGram:
        self.vocab |= set(text)
        for i, c in enumerate(text):
            for n in range(self.order):  # n = context length
                if i - n < 0:
                    break
                self.counts[n][text[i - n:i]][c] += 1
        self._totals = [{h: (sum(cnt.values()), len(cnt)) for h, cnt in level.items()} for level in self.counts]
        return self

    def prob(self, history: str, c: str) -> float:
        p = (self.counts[0][""].get(c, 0) + 1) / (self._totals[0][""][0] + len(self.vocab) + 1)
        for n in range(1, self.order):
            if len(history) < n:
                break
            h = history[-n:]
            total = self._totals[n].get(h)
            if total is None:
                break  # a longer history was never seen either
            count, types = total
            p = (self.counts[n][h].get(c, 0) + types * p) / (count + types)
        return p

    def bits_per_char(self, text: str, context: str = "\n\n") -> float:
        """Mean -log2 P over `text`, each character predicted from the ones before it."""
        full = context + text
        start = len(context)
        bits = 0.0
        for i in range(start, len(full)):
            bits -= math.log2(self.prob(full[max(0, i - self.order + 1):i], full[i]))
        return bits / max(1, len(text))
