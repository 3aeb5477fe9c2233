"""Drawing for the captioning page: an image shaded by the attention behind each word, held-out scores. Not a page."""

from __future__ import annotations

import numpy as np
import streamlit as st

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
