"""Plotly figures for the sentiment page: running probability, token heat map, confusion matrix, n-gram weights."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go


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
