"""Captioning data: the word vocabulary, the scene streams and the training dataset.

Scenes are generated, never stored: scene i of a (seed, part) stream is the same on every machine, and the
train / test parts draw from disjoint pools (digits: disjoint scans; compositional shapes: held-out
colour-shape pairs appear only in test), so held-out data never leaks into training.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from seqcore.data import digits, scenes
from seqcore.data.scenes import Scene
from seqcore.errors import InputError

DATASETS = ("shapes", "digits")
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
VOCAB = (*SPECIALS, *scenes.WORDS, *digits.WORDS)
STOI = {w: i for i, w in enumerate(VOCAB)}
PAD, BOS, EOS, UNK = range(4)
MAX_LEN = 16       # caption tokens including <bos> / <eos>: the longest caption has 10 words
TEST_SEED = 1234   # default seed of the held-out stream (model cards are scored on it)


def make_scene(dataset: str, rng: np.random.Generator, part: str = "train", split: str = "iid") -> Scene:
    """One random scene of `dataset`; part train | test picks the random pool / held-out pairs."""
    if dataset == "shapes":
        return scenes.random_scene(rng, split, part)
    if dataset == "digits":
        return digits.random_digits(rng, part)
    raise InputError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def make_scenes(dataset: str, n: int, seed: int, part: str, split: str = "iid") -> list[Scene]:
    """n scenes, each from its own (seed, index, part) stream: reproducible and disjoint across parts."""
    return [make_scene(dataset, scenes.scene_rng(seed, i, part), part, split) for i in range(n)]


def encode(words: list[str]) -> list[int]:
    return [STOI.get(w, UNK) for w in words]


def decode(ids: list[int]) -> list[str]:
    """Token ids -> words, stopping at <eos> and dropping specials."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i >= len(SPECIALS):
            out.append(VOCAB[i])
    return out


def image_tensor(images: np.ndarray) -> torch.Tensor:
    """(H, W, 3) or (B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    x = torch.as_tensor(np.asarray(images))
    if x.dim() == 3:
        x = x[None]
    return x.permute(0, 3, 1, 2).float() / 255.0


class CaptionData(Dataset):
    """Pre-rendered scenes: items (image (3, 64, 64) float, tokens_in (T,), tokens_out (T,)), T = MAX_LEN - 1.

    tokens_in = <bos> w1 .. wn <pad>..., tokens_out = w1 .. wn <eos> <pad>...
    """

    def __init__(self, items: list[Scene]):
        self.scenes = items
        self.images = np.stack([s.image for s in items])  # (n, 64, 64, 3) uint8: 12 KB a scene
        t = MAX_LEN - 1
        self.tin = torch.full((len(items), t), PAD, dtype=torch.long)
        self.tout = torch.full((len(items), t), PAD, dtype=torch.long)
        for i, s in enumerate(items):
            ids = encode(s.words)
            self.tin[i, : len(ids) + 1] = torch.tensor([BOS, *ids])
            self.tout[i, : len(ids) + 1] = torch.tensor([*ids, EOS])

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, i: int):
        return image_tensor(self.images[i])[0], self.tin[i], self.tout[i]
