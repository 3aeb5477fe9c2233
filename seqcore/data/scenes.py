"""Synthetic shape scenes drawn with Pillow: a 64x64 RGB image, its caption and each object's box.

One or two objects: shape circle | square | triangle, colour red | green | blue | yellow, size
small | large. Two objects are placed side by side or one above the other and captioned
"a small red circle left of a large blue square". The caption is canonical so that an image has
exactly one right answer: the object named first is the one that sorts first by (colour, shape,
size) and the relation says where it is relative to the other. Grey noisy backgrounds, colour
jitter and position jitter keep the task from being a lookup table.

The compositional split holds some colour-shape pairs out of training entirely, to show what a
high BLEU on in-distribution scenes does not tell you.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64
SHAPES = ("circle", "square", "triangle")
COLOURS = {"red": (215, 40, 40), "green": (40, 180, 55), "blue": (45, 70, 225), "yellow": (230, 210, 40)}
SIZES = {"small": (11, 14), "large": (20, 25)}  # side length range in pixels
RELATIONS = ("left of", "right of", "above", "below")
WORDS = ("a", *SIZES, *COLOURS, *SHAPES, "left", "right", "of", "above", "below")
# Held out of training in the compositional split; every colour and every shape still appears.
HELD_OUT_PAIRS = frozenset({("red", "triangle"), ("green", "circle"), ("blue", "square")})
SPLITS = ("iid", "compositional")


@dataclass
class SceneObject:
    shape: str
    colour: str
    size: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, inclusive-exclusive

    @property
    def words(self) -> list[str]:
        return [self.size, self.colour, self.shape]

    @property
    def centre(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.box
        return (x0 + x1) / 2, (y0 + y1) / 2


@dataclass
class Scene:
    image: np.ndarray                 # (64, 64, 3) uint8
    words: list[str]                  # caption words, no <bos>/<eos>
    boxes: list[tuple[int, int, int, int]]
    word_object: list[int | None]     # per caption word: index into boxes of the object it names, or None
    objects: list[SceneObject] = field(default_factory=list)

    @property
    def caption(self) -> str:
        return " ".join(self.words)


def _key(o: SceneObject) -> tuple[int, int, int]:
    return list(COLOURS).index(o.colour), SHAPES.index(o.shape), list(SIZES).index(o.size)


def _draw(draw: ImageDraw.ImageDraw, o: SceneObject, fill: tuple[int, int, int]) -> None:
    x0, y0, x1, y1 = o.box
    if o.shape == "circle":
        draw.ellipse((x0, y0, x1 - 1, y1 - 1), fill=fill)
    elif o.shape == "square":
        draw.rectangle((x0, y0, x1 - 1, y1 - 1), fill=fill)
    else:  # apex up, base at the bottom: the box centre is inside the triangle
        draw.polygon([((x0 + x1 - 1) / 2, y0), (x1 - 1, y1 - 1), (x0, y1 - 1)], fill=fill)


def _allowed(colour: str, shape: str, split: str, part: str) -> bool:
    """Whether a colour-shape pair may appear in `part` (train | test) of `split`."""
    if split == "iid" or part == "test":
        return True
    return (colour, shape) not in HELD_OUT_PAIRS


def _sample_object(rng: np.random.Generator, split: str, part: str) -> tuple[str, str, str]:
    while True:
        colour = list(COLOURS)[rng.integers(len(COLOURS))]
        shape = SHAPES[rng.integers(len(SHAPES))]
        if _allowed(colour, shape, split, part):
            return shape, colour, list(SIZES)[rng.integers(len(SIZES))]


def render_scene(objects: list[tuple[str, str, str]], relation: str | None = None, *,
                 rng: np.random.Generator | None = None, noise: float = 18.0) -> Scene:
    """Draw one scene from (shape, colour, size) triples; `relation` places the first relative to the second.

    With two objects and no relation, one is picked at random. Raises ValueError on unknown words.
    """
    rng = rng if rng is not None else np.random.default_rng()
    if not 1 <= len(objects) <= 2:
        raise ValueError("a scene has one or two objects")
    for shape, colour, size in objects:
        if shape not in SHAPES or colour not in COLOURS or size not in SIZES:
            raise ValueError(f"unknown object {(shape, colour, size)}: shapes {SHAPES}, colours "
                             f"{tuple(COLOURS)}, sizes {tuple(SIZES)}")
    sides = [int(rng.integers(SIZES[s][0], SIZES[s][1] + 1)) for _, _, s in objects]
    if len(objects) == 1:
        s = sides[0]
        x, y = (int(v) for v in rng.integers(2, SIZE - s - 1, size=2))
        placed = [(x, y)]
    else:
        relation = relation or RELATIONS[rng.integers(len(RELATIONS))]
        if relation not in RELATIONS:
            raise ValueError(f"relation must be one of {RELATIONS}")
        placed = _place_pair(rng, sides, relation)
    objs = [SceneObject(sh, c, sz, (x, y, x + s, y + s))
            for (sh, c, sz), (x, y), s in zip(objects, placed, sides, strict=True)]

    base = int(rng.integers(70, 150))
    img = Image.new("RGB", (SIZE, SIZE), (base, base, base))
    draw = ImageDraw.Draw(img)
    for o in objs:
        fill = tuple(int(np.clip(v + rng.integers(-25, 26), 0, 255)) for v in COLOURS[o.colour])
        _draw(draw, o, fill)
    pixels = np.asarray(img, dtype=np.float32) + rng.normal(0, noise, (SIZE, SIZE, 3))
    image = np.clip(pixels, 0, 255).astype(np.uint8)

    if len(objs) == 1:
        words, word_object = ["a", *objs[0].words], [None, 0, 0, 0]
        return Scene(image, words, [objs[0].box], word_object, objs)
    first, second = sorted(range(2), key=lambda i: _key(objs[i]))
    if _key(objs[0]) == _key(objs[1]):
        first, second = (0, 1) if objs[0].centre <= objs[1].centre else (1, 0)
    rel = relation_between(objs[first], objs[second])
    rel_words = rel.split()
    words = ["a", *objs[first].words, *rel_words, "a", *objs[second].words]
    word_object = [None, first, first, first, *([None] * len(rel_words)), None, second, second, second]
    return Scene(image, words, [o.box for o in objs], word_object, objs)


def relation_between(a: SceneObject, b: SceneObject) -> str:
    """Where a is relative to b, read from box centres along the axis where they are further apart."""
    (ax, ay), (bx, by) = a.centre, b.centre
    if abs(ax - bx) >= abs(ay - by):
        return "left of" if ax < bx else "right of"
    return "above" if ay < by else "below"


def _place_pair(rng: np.random.Generator, sides: list[int], relation: str) -> list[tuple[int, int]]:
    """Top-left corners for two objects so that object 0 is `relation` object 1, clearly apart."""
    horizontal = relation in ("left of", "right of")
    s0, s1 = sides
    gap = int(rng.integers(3, 10))
    span = s0 + gap + s1
    start = int(rng.integers(1, max(2, SIZE - span)))
    along = [start, start + s0 + gap] if relation in ("left of", "above") else [start + s1 + gap, start]
    # The other axis jitters less than the separation, so the relation stays unambiguous.
    centre = int(rng.integers(18, SIZE - 18))
    across = [int(np.clip(centre - s // 2 + rng.integers(-4, 5), 1, SIZE - s - 1)) for s in sides]
    if horizontal:
        return [(along[0], across[0]), (along[1], across[1])]
    return [(across[0], along[0]), (across[1], along[1])]


def random_scene(rng: np.random.Generator, split: str = "iid", part: str = "train") -> Scene:
    """One random scene; in the compositional split's test part at least one object is a held-out pair."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}")
    n = 1 + int(rng.integers(2))
    while True:
        objects = [_sample_object(rng, split, part) for _ in range(n)]
        if split == "iid" or part == "train" or any((c, s) in HELD_OUT_PAIRS for s, c, _ in objects):
            return render_scene(objects, rng=rng)


def scene_rng(seed: int, index: int, part: str) -> np.random.Generator:
    """Train and test draw from separate random streams, so held-out images are never training images."""
    return np.random.default_rng([seed, index, 0 if part == "train" else 1])
