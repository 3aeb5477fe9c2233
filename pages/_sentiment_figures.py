"""Figures for the sentiment page (running probability, token heat map, confusion matrix, n-gram weights) and the
Streamlit drawing of the lecture expander, a model's reading, the TF-IDF baseline's weights and a held-out
evaluation.

Not a page (leading underscore). Drawing only: the numbers come from seqcore.tasks.sentiment.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from pages._shared import how_it_works


def running_figure(tokens: list[str], p: np.ndarray, title: str) -> go.Figure:
    """P(positive) after each token, with the 0.5 decision line."""
    x = list(range(1, len(tokens) + 1))
    fig = go.Figure()
    fig.add_scatter(x=x, y=p, mode="lines+markers", name="P(positive)", customdata=tokens,
                    hovertemplate="token %{x}: %{customdata}<br>P(positive) = %{y:.3f}<extra></extra>")
    fig.add_hline(y=0.5, line_dash="dot", line_color="grey")
    show = len(tokens) <= 60  # label the axis with the words while they still fit
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=40, b=10), title=title, yaxis_range=[0, 1],
                      yaxis_title="P(positive)", xaxis_title=None if show else "token",
                      xaxis=dict(tickmode="array", tickvals=x, ticktext=tokens, tickangle=-60) if show else {})
    return fig


def token_heatmap(tokens: list[str], rows: dict[str, np.ndarray], per_line: int = 10) -> go.Figure:
    """Each token coloured by each score, `per_line` tokens a line, the scores of one line stacked.

    rows: name -> (T,) scores. Each score is scaled to its max |value|: attention weights show as
    shades of blue; saliency is blue where it pushes towards positive, red towards negative.
    """
    scaled = {name: np.asarray(v, dtype=float) / (np.abs(v).max() or 1.0) for name, v in rows.items()}
    z, text, labels = [], [], []
    for start in range(0, len(tokens), per_line):
        seg = slice(start, start + per_line)
        pad = per_line - len(tokens[seg])
        for name, v in scaled.items():
            z.append(list(v[seg]) + [None] * pad)
            text.append(tokens[seg] + [""] * pad)
            labels.append(f"{name} · {start + 1}-{start + len(tokens[seg])}")
    fig = go.Figure(go.Heatmap(z=z, text=text, texttemplate="%{text}", textfont=dict(size=13), y=labels,
                               colorscale="RdBu", zmid=0, zmin=-1, zmax=1, showscale=False, xgap=2, ygap=2,
                               hovertemplate="%{text}: %{z:.2f}<extra>%{y}</extra>"))
    fig.update_layout(height=40 + 32 * len(z), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(visible=False), yaxis=dict(autorange="reversed", type="category"))
    return fig


def confusion_figure(confusion: list[list[int]]) -> go.Figure:
    """Rows: true label; columns: predicted label."""
    names = ["negative", "positive"]
    fig = go.Figure(go.Heatmap(z=confusion, x=[f"predicted {n}" for n in names], y=[f"true {n}" for n in names],
                               text=confusion, texttemplate="%{text}", colorscale="Blues", showscale=False))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(autorange="reversed"))
    return fig


def weights_figure(pairs: list[tuple[str, float]], title: str, x_title: str = "weight") -> go.Figure:
    """Horizontal bars, one per n-gram, largest |value| on top: blue pushes towards positive, red towards negative."""
    pairs = sorted(pairs, key=lambda p: abs(p[1]))
    fig = go.Figure(go.Bar(x=[v for _, v in pairs], y=[g for g, _ in pairs], orientation="h",
                           marker_color=["#2166ac" if v >= 0 else "#b2182b" for _, v in pairs],
                           hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.update_layout(height=60 + 22 * len(pairs), margin=dict(l=10, r=10, t=40, b=10), title=title,
                      xaxis_title=x_title, yaxis=dict(type="category"))
    return fig


def draw_reading(tokens: list[str], p: np.ndarray, explained: dict) -> None:
    """A model's P(positive) after each token, and its pooling weights and saliency per token."""
    st.plotly_chart(running_figure(tokens, p, "P(positive) after each token"), key="sentiment-running")
    st.plotly_chart(token_heatmap(explained["tokens"], {"attention pooling": explained["attention"],
                                                        "saliency (grad x input)": explained["saliency"]}),
                    key="sentiment-heatmap")
    st.caption("Blue: more pooling weight / pushes towards positive; red: pushes towards negative. Attention "
               "weights and saliency describe the computation; they are not an explanation of why the model is "
               "right or wrong.")


def draw_tfidf(base, text: str) -> None:
    """The TF-IDF baseline: this text's n-grams by their share of the logit, and its strongest n-grams."""
    with st.container(key="sentiment-tfidf"):
        if text.strip():
            st.plotly_chart(weights_figure(base.explain(text), "This review's n-grams: tf-idf × weight",
                                           "share of the logit"), key="sentiment-tfidf-text")
        top = base.top_ngrams(12)
        c1, c2 = st.columns(2)
        c1.plotly_chart(weights_figure(top["positive"], "Most positive n-grams"), key="sentiment-tfidf-pos")
        c2.plotly_chart(weights_figure(top["negative"], "Most negative n-grams"), key="sentiment-tfidf-neg")
        st.caption(f"Fitted in {base.fit_seconds:.0f} s on {base.train_rows:,} training reviews (IMDB + MR), "
                   f"{len(base.features):,} n-grams. A weight is what one unit of tf-idf adds to the logit; the "
                   "logit is the bias plus the sum of all the text's terms (the largest are drawn), so unlike "
                   "attention weights these bars are the model's whole computation.")


def draw_evaluation(ev: dict) -> None:
    """A held-out evaluation: the model beside the baselines, its confusion matrix and most confident mistakes."""
    m1, m2, m3, m4 = st.columns(4)
    m1.metric(f"{ev['model']}", f"{ev['result']['accuracy']:.1%}", help=f"{ev['result']['n']} test reviews")
    m2.metric("TF-IDF + LR", f"{ev['tfidf']:.1%}", help="word 1-2 grams, fitted on the same training split")
    m3.metric("VADER", f"{ev['vader']:.1%}")
    m4.metric("Majority class", f"{ev['majority']:.1%}")
    st.plotly_chart(confusion_figure(ev["result"]["confusion"]), key="sentiment-confusion")
    st.markdown("**Most confident mistakes**")
    mistakes = pd.DataFrame(ev["result"].get("mistakes", []), columns=["text", "label", "p_positive"])
    st.dataframe(mistakes.rename(columns={"label": "true label"}), hide_index=True, key="sentiment-mistakes")


def draw_text_notes(models: list, text: str) -> None:
    """What the models cannot read of `text`: tokens past their limit, words they never saw (models: default first)."""
    if cut := [m for m in models if m.encode(text).truncated]:
        st.warning(f"The text has {cut[0].encode(text).n_tokens} tokens; "
                   + ", ".join(f"{m.name} reads only the first {m.max_tokens}" for m in cut)
                   + " (VADER and TF-IDF read it all).", icon=":material/content_cut:")
    enc = models[0].encode(text) if models else None
    if enc is None or not enc.ids:
        return
    unknown = enc.ids.count(1)
    if unknown == len(enc.ids):
        st.warning(f"None of the {len(enc.ids)} tokens is a word the models know, so their answer is a guess: "
                   "write the review in English words.", icon=":material/translate:")
    if unknown / len(enc.ids) > 0.3 or any(ord(ch) > 0x2FF for ch in text):
        st.info(f"{unknown} of {len(enc.ids)} tokens are unknown to the models: they know English movie reviews, "
                "so other languages and emoji are mostly guesswork.", icon=":material/translate:")


def lecture() -> None:
    """The "How it works" expander: the LSTM and attention-pooling equations, the problem shape, the baselines."""
    how_it_works(
        [r"h_t = o_t \odot \tanh(c_t),\quad c_t = f_t \odot c_{t-1} + i_t \odot \tilde c_t,\quad "
         r"f_t, i_t, o_t = \sigma(W [h_{t-1}, x_t] + b)",
         r"a_t = \mathrm{softmax}_t\big(v^\top \tanh(W_a h_t + b_a)\big),\qquad "
         r"P(\text{positive}) = \sigma\Big(w^\top \sum_t a_t h_t + b\Big)",
         r"\mathrm{Attention}(Q,K,V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right)V"],
        "**Many-to-one.** A review becomes lower-cased word and punctuation tokens (vocabulary from the training "
        "split only; unseen words become `<unk>`), cut to the first 256 (BiLSTM) or 512 (Transformer) tokens. "
        "The **BiLSTM** reads it forwards and backwards (states h_t = [h_t forward; h_t backward]); the "
        "**Transformer encoder** (one pre-LN block, sinusoidal positions) lets every token attend to every other. "
        "Both pool their states with learned additive attention weights a_t and a linear head gives P(positive). "
        "Trained with binary cross-entropy, AdamW, gradient clipping and backpropagation (through time, for the "
        "LSTM). **Baselines:** the majority class of the training split; VADER, a hand-built lexicon with rules for "
        "negation and emphasis; and TF-IDF + logistic regression, a bag of words and word pairs weighted by how rare "
        "they are, with one learned weight each, fitted on the same training reviews (word order beyond pairs is "
        "invisible to it). **How the model reads** runs the model on every prefix of the text (the LSTM's running "
        "state through its head; the Transformer's prediction on each prefix).",
        limits="these models know English movie reviews of 2000s IMDB and Rotten Tomatoes; sarcasm, other domains "
               "and other languages fool them, and a CPU-sized model from scratch stays below pretrained ones.",
    )
