"""Drawing for the captioning page: an image shaded by the attention behind each word, held-out scores, the lecture.
Not a page."""

from __future__ import annotations

import numpy as np
import streamlit as st

from pages._shared import how_it_works
from seqcore.tasks import captioning as C


def word_overlay(img: np.ndarray, att_map: np.ndarray, word: str, *, key: str) -> None:
    """The image shaded by one word's (grid, grid) attention map, large."""
    with st.container(key=key):
        st.image(C.overlay(img, att_map), width=256,
                 caption=f"where it looked while writing “{word}” (peak weight {att_map.max():.2f})")


def small_multiples(img: np.ndarray, maps: np.ndarray, words: list[str]) -> None:
    """One shaded copy of the image per word, in a row that wraps. Plain images, not a plotly grid of
    go.Image traces: those sent every pixel as JSON and made a new scene take over a second in the browser."""
    st.image([C.overlay(img, m) for m in maps], caption=words, width=96)


def scores(name: str, result: dict) -> None:
    """A captioning.evaluate result: the headline figures beside their baselines, and a few example captions."""
    k1, k2, k3, k4 = st.columns(4)
    k1.metric("BLEU-4", f"{result['bleu4']:.1f}", help=f"nearest-neighbour baseline {result['baseline_nn_bleu4']:.1f}")
    k2.metric("Exact match", f"{result['exact']:.0%}", help=f"baseline {result['baseline_nn_exact']:.0%}")
    k3.metric("Attention localisation", f"{result['attention_localisation']:.0%}",
              help=f"a random peak cell hits {result['chance_localisation']:.0%}")
    k4.metric("Captions / s", f"{result['captions_per_second']:.0f}")
    st.caption(f"{name} on {result['n']} fresh {result['split']} {result['dataset']} scenes (seed {result['seed']}); "
               f"nearest-neighbour baseline BLEU-4 {result['baseline_nn_bleu4']:.1f}, "
               f"exact {result['baseline_nn_exact']:.0%}.")
    st.dataframe(result["examples"], hide_index=True)


def lecture() -> None:
    """The "How it works" expander: soft attention, the doubly stochastic penalty, cross-attention, the scores."""
    how_it_works(
        [r"e_{t,i} = w^\top \tanh(W_a a_i + W_h h_{t-1}),\quad \alpha_t = \mathrm{softmax}(e_t),\quad "
         r"z_t = \beta_t \textstyle\sum_i \alpha_{t,i} a_i",
         r"h_t, c_t = \mathrm{LSTM}([E y_{t-1}; z_t],\ (h_{t-1}, c_{t-1})),\quad "
         r"p(y_t) = \mathrm{softmax}(W_o [h_t; z_t])",
         r"\mathcal{L} = -\textstyle\sum_t \log p(y_t) + "
         r"\lambda \frac{1}{N}\sum_i \big(1 - \sum_t \alpha_{t,i}\big)^2",
         r"\mathrm{CrossAttn}(Q{=}\text{words}, K{=}V{=}\text{grid}) = "
         r"\mathrm{softmax}\!\big(QK^\top/\sqrt{d_k}\big)V"],
        "**Problem shape: one-to-many.** One image in, a sequence of words out. The LSTM decoder is *Show, Attend "
        "and Tell*'s: soft additive attention over the N = 64 grid cells at every step, with the doubly stochastic "
        "penalty that keeps it from staring at one cell for the whole caption. The Transformer decoder uses causal "
        "self-attention over the words so far and cross-attention to the grid (one map per layer and head). "
        "Scores are on freshly generated held-out scenes: **BLEU-4** (sacrebleu), **exact match**, and **attention "
        "localisation**, the share of object words (size, colour, shape, digit) whose attention peak cell overlaps "
        "that object's box, read while the model follows the reference caption. **Baselines:** the caption of the "
        "nearest training image in pixel space, and the hit rate of a random peak cell.",
        limits="a model trained on synthetic scenes does not caption photos, and an attention map shows where the "
               "model looked, not why it chose a word.",
    )
