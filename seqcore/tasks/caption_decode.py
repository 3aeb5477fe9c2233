"""Writing captions: greedy (batched) or beam search (seqcore.generate), with the attention behind every word.

Both run the captioner's start / step surface (seqcore.models.captioner); each step's attention over the
grid comes back in state["attention"], so a caption carries the map each of its words was written with.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from seqcore.errors import InputError
from seqcore.generate import beam_search
from seqcore.models.captioner import Captioner
from seqcore.tasks.caption_data import BOS, EOS, MAX_LEN, decode, image_tensor

MAX_BEAM = 10


@dataclass
class Caption:
    words: list[str]
    attention: np.ndarray        # (n_words + 1, L, H, N): the steps that emitted each word and <eos>
    score: float                 # sum of log-probabilities

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def word_maps(self, grid: int, layer: int | None = None, head: int | None = None) -> np.ndarray:
        """(n_words, grid, grid): attention per word, averaged over layers and heads (or one layer's one head);
        each map sums to 1."""
        a = self.attention[: len(self.words)]
        if layer is not None:
            a = a[:, layer: layer + 1, head: head + 1]
        return a.mean(axis=(1, 2)).reshape(len(self.words), grid, grid)


def _attention(state: dict) -> torch.Tensor:
    return state["attention"]  # (n, L, H, N)


def _greedy(model: Captioner, images: torch.Tensor) -> list[Caption]:
    """All images (B, 3, S, S) at once: the argmax word per step until every caption has ended."""
    b = images.shape[0]
    state = model.start(images)
    token = torch.full((b, 1), BOS, dtype=torch.long)
    ids, atts, scores = [], [], torch.zeros(b)
    done = torch.zeros(b, dtype=torch.bool)
    for _ in range(MAX_LEN - 1):
        logp, state = model.step(state, token)
        token = logp.argmax(-1, keepdim=True)  # (B, 1)
        scores += torch.where(done, 0.0, logp.gather(1, token)[:, 0])
        ids.append(token[:, 0])
        atts.append(_attention(state))
        done |= token[:, 0] == EOS
        if done.all():
            break
    ids_t, att_t = torch.stack(ids, 1).tolist(), torch.stack(atts, 1).numpy()  # (B, T, L, H, N)
    out = []
    for i in range(b):
        words = decode(ids_t[i])
        out.append(Caption(words, att_t[i, : len(words) + 1], float(scores[i])))
    return out


def _beam(model: Captioner, image: torch.Tensor, beam: int) -> Caption:
    """One image (1, 3, S, S); finished hypotheses ranked by their mean log-probability per token."""
    best = beam_search(model, image, bos=BOS, eos=EOS, beam=beam, max_len=MAX_LEN - 1, length_norm="mean",
                       extras=_attention).best
    words = decode(best.tokens)
    return Caption(words, torch.stack(best.extras).numpy()[: len(words) + 1], best.score)


@torch.inference_mode()
def caption_images(model: Captioner, images: np.ndarray, beam: int = 1, batch_size: int = 128) -> list[Caption]:
    """Captions for (B, 64, 64, 3) or (64, 64, 3) uint8 images: greedy when beam == 1, else beam search."""
    if not 1 <= beam <= MAX_BEAM:
        raise InputError(f"beam width must be between 1 and {MAX_BEAM}")
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    out: list[Caption] = []
    for start in range(0, len(images), batch_size):
        x = image_tensor(images[start: start + batch_size])
        out += _greedy(model, x) if beam == 1 else [_beam(model, x[i: i + 1], beam) for i in range(x.shape[0])]
    return out
