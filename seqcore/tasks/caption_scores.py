"""Held-out scores of a captioner: BLEU-4, attention localisation, and the nearest-neighbour baseline.

Localisation is the share of object words (size, colour, shape, digit) whose attention peak cell overlaps
that object's box, read with teacher forcing on the reference caption so every object word is scored; its
chance rate is the share of cells a uniformly random peak would hit. The baseline captions a scene with the
caption of the nearest training image in pixel space.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from seqcore.data import scenes
from seqcore.data.scenes import Scene
from seqcore.models.captioner import Captioner
from seqcore.tasks.caption_data import CaptionData, image_tensor, make_scenes


def bleu4(hyps: list[str], refs: list[str]) -> float:
    """Corpus BLEU-4 (0-100) with sacrebleu on already tokenised, space-joined captions."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hyps, [refs], tokenize="none").score)


def cell_hits_box(cell: int, grid: int, box: tuple[int, int, int, int], size: int = scenes.SIZE) -> bool:
    """Whether grid cell `cell` (row-major) overlaps the pixel box (x0, y0, x1, y1) of a size x size image."""
    r, c = divmod(cell, grid)
    step = size / grid
    x0, y0, x1, y1 = box
    return c * step < x1 and (c + 1) * step > x0 and r * step < y1 and (r + 1) * step > y0


@torch.inference_mode()
def teacher_forced_attention(model: Captioner, items: list[Scene]) -> np.ndarray:
    """(B, T, N) attention, averaged over layers and heads, while reading each reference caption."""
    data = CaptionData(items)
    _, att = model(image_tensor(data.images), data.tin, return_attention=True)
    return att.mean(dim=(2, 3)).numpy()


def localisation(model: Captioner, items: list[Scene]) -> dict:
    """Share of object words whose attention peak cell overlaps the object's box, and the chance rate."""
    att = teacher_forced_attention(model, items)
    g = model.grid
    hits = total = 0
    chance = []
    for s, a in zip(items, att, strict=False):
        for t, obj in enumerate(s.word_object):
            if obj is None:
                continue
            total += 1
            hits += cell_hits_box(int(a[t].argmax()), g, s.boxes[obj])
            chance.append(np.mean([cell_hits_box(c, g, s.boxes[obj]) for c in range(g * g)]))
    return {"attention_localisation": hits / max(1, total), "chance_localisation": float(np.mean(chance or [0.0])),
            "object_words": total}


def nearest_neighbour_captions(dataset: str, items: list[Scene], n_train: int = 2000, seed: int = 0,
                               split: str = "iid") -> list[str]:
    """Baseline: the caption of the closest training image (squared distance of 16x16 thumbnails)."""
    train_items = make_scenes(dataset, n_train, seed, "train", split)

    def thumbs(xs):
        t = image_tensor(np.stack([s.image for s in xs]))
        return F.adaptive_avg_pool2d(t, 16).flatten(1)

    dist = torch.cdist(thumbs(items), thumbs(train_items))
    return [train_items[j].caption for j in dist.argmin(1).tolist()]
