"""Scene and digit-string generators: captions say what is drawn; held-out data never leaks."""

import numpy as np
import pytest

from seqcore.data import digits, scenes

RGB = {name: np.array(c, dtype=float) for name, c in scenes.COLOURS.items()}


def _colour_at(image: np.ndarray, box) -> str:
    """The scene colour nearest the mean of a small window at the box centre (noise averages out)."""
    x0, y0, x1, y1 = box
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    # Triangles are narrow near the apex: sample just below the centre, where every shape is solid.
    patch = image[cy: cy + 3, cx - 1: cx + 2].reshape(-1, 3).astype(float).mean(0)
    return min(RGB, key=lambda k: np.abs(RGB[k] - patch).sum())


@pytest.mark.parametrize("seed", range(3))
def test_caption_matches_what_is_drawn(seed):
    for i in range(60):
        s = scenes.random_scene(scenes.scene_rng(seed, i, "train"))
        n = len(s.objects)
        assert n in (1, 2) and len(s.boxes) == n
        assert s.words.count("a") == n  # one article per object
        assert len(s.word_object) == len(s.words)
        for k, o in enumerate(s.objects):
            assert _colour_at(s.image, o.box) == o.colour, (s.caption, o)
            named = [w for w, j in zip(s.words, s.word_object, strict=True) if j == k]
            assert named == [o.size, o.colour, o.shape]
        if n == 2:
            first = s.word_object[1]
            rel = " ".join(s.words[4:-4])
            assert rel in scenes.RELATIONS
            assert rel == scenes.relation_between(s.objects[first], s.objects[1 - first])
            (ax, ay), (bx, by) = s.objects[first].centre, s.objects[1 - first].centre
            along, across = (abs(ax - bx), abs(ay - by)) if rel in ("left of", "right of") else (abs(ay - by),
                                                                                                 abs(ax - bx))
            assert along > across  # the relation is clear from the box centres
            x0, y0, x1, y1 = s.objects[0].box
            u0, v0, u1, v1 = s.objects[1].box
            assert x1 <= u0 or u1 <= x0 or y1 <= v0 or v1 <= y0  # objects never overlap


def test_caption_is_canonical():
    """Describing the same two objects from either side gives the same caption words order."""
    rng = np.random.default_rng(0)
    a = scenes.render_scene([("circle", "red", "small"), ("square", "blue", "large")], "left of", rng=rng)
    b = scenes.render_scene([("square", "blue", "large"), ("circle", "red", "small")], "right of", rng=rng)
    assert a.caption == b.caption == "a small red circle left of a large blue square"


def test_render_rejects_unknown_words():
    with pytest.raises(ValueError, match="unknown object"):
        scenes.render_scene([("hexagon", "red", "small")])


def test_compositional_split_holds_pairs_out_of_training():
    train = [scenes.random_scene(scenes.scene_rng(0, i, "train"), "compositional", "train") for i in range(300)]
    test = [scenes.random_scene(scenes.scene_rng(0, i, "test"), "compositional", "test") for i in range(100)]
    assert not any((o.colour, o.shape) in scenes.HELD_OUT_PAIRS for s in train for o in s.objects)
    assert all(any((o.colour, o.shape) in scenes.HELD_OUT_PAIRS for o in s.objects) for s in test)
    # Every colour and every shape still appears in training: only the pairing is new.
    assert {o.colour for s in train for o in s.objects} == set(scenes.COLOURS)
    assert {o.shape for s in train for o in s.objects} == set(scenes.SHAPES)


def test_digit_pools_are_disjoint_and_cover_the_set():
    split = digits.split_indices()
    train, test = set(split["train"].tolist()), set(split["test"].tolist())
    assert not train & test
    assert len(train) + len(test) == 1797
    assert 340 <= len(test) <= 380


def test_digit_strings_use_only_their_pool(monkeypatch):
    used = []
    real = digits.render_digits
    monkeypatch.setattr(digits, "render_digits", lambda idx, rng: used.extend(idx) or real(idx, rng))
    for i in range(50):
        s = digits.random_digits(np.random.default_rng(i), "test")
        assert 2 <= len(s.words) <= 5 and all(w in digits.WORDS for w in s.words)
        assert s.image.shape == (64, 64, 3)
        xs = [b[0] for b in s.boxes]
        assert xs == sorted(xs) and all(b[2] <= 64 and b[3] <= 64 for b in s.boxes)  # read left to right
    assert set(used) <= set(digits.split_indices()["test"].tolist())


def test_digit_caption_spells_the_labels():
    _, labels = digits._digits()
    s = digits.render_digits([0, 1, 2], np.random.default_rng(0))
    assert s.words == [digits.WORDS[labels[i]] for i in (0, 1, 2)]
