"""Handwritten digit strings from scikit-learn's bundled 8x8 digits (1,797 real scans, no download).

A 64x64 RGB image holds 2-5 digits in a row, each scaled to 12x12, left-aligned with jittered
position and noise; the caption spells them: "seven nine zero". The 1,797 images are split once, with a fixed
permutation, into disjoint train and test pools, so a held-out string never reuses a training scan.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from PIL import Image

from seqcore.data.scenes import SIZE, Scene

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT = 12          # pixels per digit side
TEST_FRACTION = 0.2
SPLIT_SEED = 0


def data_file() -> Path:
    """sklearn/datasets/data/digits.csv.gz inside the installed wheel, found without importing sklearn
    (its import pulls in scipy and costs seconds; the file is 1,797 rows of 64 pixels + the label)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-learn is not installed: `make setup` installs it with the digits")
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz"


@functools.cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    """(1797, 12, 12) uint8 scans scaled up, (1797,) labels."""
    raw = np.loadtxt(data_file(), delimiter=",")
    scans = (raw[:, :64].reshape(-1, 8, 8) * (255.0 / 16.0)).astype(np.uint8)
    big = np.stack([np.asarray(Image.fromarray(s).resize((DIGIT, DIGIT), Image.BILINEAR)) for s in scans])
    return big, raw[:, 64].astype(np.int64)


@functools.cache
def split_indices() -> dict[str, np.ndarray]:
    """Disjoint indices into the 1,797 scans: {"train": ..., "test": ...}."""
    n = len(_digits()[1])
    perm = np.random.default_rng(SPLIT_SEED).permutation(n)
    n_test = int(round(n * TEST_FRACTION))
    return {"train": np.sort(perm[n_test:]), "test": np.sort(perm[:n_test])}


def render_digits(indices: list[int], rng: np.random.Generator, noise: float = 12.0) -> Scene:
    """A scene of the given scans (indices into the bundled set), left to right."""
    scans, labels = _digits()
    n = len(indices)
    if not 1 <= n <= 5:
        raise ValueError("a digit string has 1 to 5 digits")
    gaps = rng.integers(0, 2 if n < 5 else 1, size=n - 1)  # five digits fill the width
    # Left-aligned like written text, with jitter: the k-th word's digit sits in roughly the same
    # columns in every image, which a tiny model trained for minutes on one CPU core can learn.
    x = int(rng.integers(1, min(5, SIZE - n * DIGIT - int(gaps.sum()))))
    y = int(rng.integers(SIZE // 2 - DIGIT // 2 - 6, SIZE // 2 - DIGIT // 2 + 7))
    canvas = np.zeros((SIZE, SIZE), np.float32)
    boxes = []
    for k, i in enumerate(indices):
        yk = int(np.clip(y + rng.integers(-2, 3), 0, SIZE - DIGIT))
        canvas[yk: yk + DIGIT, x: x + DIGIT] = np.maximum(canvas[yk: yk + DIGIT, x: x + DIGIT], scans[i])
        boxes.append((x, yk, x + DIGIT, yk + DIGIT))
        x += DIGIT + (int(gaps[k]) if k < n - 1 else 0)
    canvas = canvas + rng.normal(0, noise, canvas.shape)
    image = np.repeat(np.clip(canvas, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    words = [WORDS[labels[i]] for i in indices]
    return Scene(image, words, boxes, list(range(n)))


def random_digits(rng: np.random.Generator, part: str = "train") -> Scene:
    """2-5 random scans drawn only from the `part` pool (train | test)."""
    pool = split_indices()[part]
    n = int(rng.integers(2, 6))
    return render_digits([int(i) for i in rng.choice(pool, size=n)], rng)
