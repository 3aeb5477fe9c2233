"""Plotly figures for the sentiment page: running probability, token heat map, confusion matrix."""

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


def token_heatmap(tokens: list[str], rows: dict[str, np.ndarray], per_line: int = 20) -> go.Figure:
    """Each token coloured by a score; one block of lines per score, `per_line` tokens a line.

    rows: name -> (T,) scores. Attention weights are scaled to their max; saliency to its max |value|
    (red pushes towards negative, blue towards positive).
    """
    n_lines = (len(tokens) + per_line - 1) // per_line
    z, text, labels = [], [], []
    for name, values in rows.items():
        v = np.asarray(values, dtype=float)
        scale = np.abs(v).max() or 1.0
        for line in range(n_lines):
            seg = slice(line * per_line, (line + 1) * per_line)
            pad = per_line - len(tokens[seg])
            z.append(list(v[seg] / scale) + [None] * pad)
            text.append(tokens[seg] + [""] * pad)
            labels.append(f"{name} {line + 1}" if n_lines > 1 else name)
    fig = go.Figure(go.Heatmap(z=z, text=text, texttemplate="%{text}", y=labels, colorscale="RdBu", zmid=0,
                               zmin=-1, zmax=1, showscale=False, xgap=2, ygap=2,
                               hovertemplate="%{text}: %{z:.2f}<extra>%{y}</extra>"))
    fig.update_layout(height=60 + 34 * len(z), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(visible=False), yaxis=dict(autorange="reversed"))
    return fig


def confusion_figure(confusion: list[list[int]]) -> go.Figure:
    """Rows: true label; columns: predicted label."""
    names = ["negative", "positive"]
    fig = go.Figure(go.Heatmap(z=confusion, x=[f"predicted {n}" for n in names], y=[f"true {n}" for n in names],
                               text=confusion, texttemplate="%{text}", colorscale="Blues", showscale=False))
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=10, b=10), yaxis=dict(autorange="reversed"))
    return fig
