"""Plotly figures for the attention explorer: labelled heat maps, head view lines, the model grid.

Not a page (leading underscore). Figures only: the numbers come from seqcore.tasks.attention_maths.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

HEAD_COLOURS = qualitative.Plotly + qualitative.Dark24


def head_colour(h: int) -> str:
    return HEAD_COLOURS[h % len(HEAD_COLOURS)]


def _z(matrix: np.ndarray) -> np.ndarray:
    """Rounded values (the JSON goes to the browser), masked -inf cells as NaN: drawn blank, no hover."""
    m = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    return np.round(np.where(np.isfinite(m), m, np.nan), 5)


def heatmap(matrix: np.ndarray, rows: list[str], cols: list[str], *, title: str, x_title: str, y_title: str,
            weights: bool = False, height: int | None = None) -> go.Figure:
    """One labelled heat map with hover values; weights=True pins the colour scale to 0..1."""
    scale = dict(colorscale="Blues", zmin=0, zmax=1) if weights else dict(colorscale="RdBu", zmid=0)
    fig = go.Figure(go.Heatmap(
        z=_z(matrix), x=cols, y=rows, **scale, colorbar=dict(thickness=12),
        xgap=1 if len(cols) < 60 else 0, ygap=1 if len(rows) < 60 else 0,
        hovertemplate=f"{y_title}: %{{y}}<br>{x_title}: %{{x}}<br>value: %{{z:.4g}}<extra></extra>",
    ))
    fig.update_layout(
        title=title, height=height or min(720, 140 + 22 * len(rows)), margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(title=x_title, type="category", tickangle=-60 if len(cols) > 6 else 0),
        yaxis=dict(title=y_title, type="category", autorange="reversed"),
    )
    return fig


def head_view(lines: list[tuple[int, int, int, float]], queries: list[str], keys: list[str],
              heads: list[int], *, title: str) -> go.Figure:
    """Queries on the left, keys on the right, a line per weight (thicker, darker = more attention)."""
    fig = go.Figure()
    n = max(len(queries), len(keys))
    for h in heads:
        mine = [ln for ln in lines if ln[0] == h]
        # One trace per weight band, since a plotly trace has a single width and opacity.
        for lo, hi, width, alpha in ((0.0, 0.1, 1, 0.25), (0.1, 0.3, 2, 0.45), (0.3, 0.6, 3, 0.7), (0.6, 1.01, 5, 1)):
            band = [ln for ln in mine if lo <= ln[3] < hi]
            xs, ys = [], []
            for _, i, j, _ in band:
                xs += [0, 1, None]
                ys += [-i, -j, None]
            fig.add_scatter(x=xs, y=ys, mode="lines", line=dict(color=head_colour(h), width=width),
                            opacity=alpha, legendgroup=f"h{h}", showlegend=False, hoverinfo="skip")
        fig.add_scatter(  # midpoints carry the hover values and the legend entry for the head
            x=[0.5] * len(mine), y=[-(i + j) / 2 for _, i, j, _ in mine], mode="markers",
            marker=dict(color=head_colour(h), size=5, opacity=0.6), name=f"head {h}", legendgroup=f"h{h}",
            hovertext=[f"head {h}: {queries[i]} → {keys[j]}: {w:.3f}" for _, i, j, w in mine], hoverinfo="text",
        )
    for x, labels, side in ((0, queries, "left"), (1, keys, "right")):
        fig.add_scatter(x=[x] * len(labels), y=[-i for i in range(len(labels))], mode="markers+text",
                        text=labels, textposition=f"middle {side}", marker=dict(color="#444", size=4),
                        hovertext=labels, hoverinfo="text", showlegend=False)
    fig.update_layout(
        title=title, height=min(1400, 160 + 20 * n), margin=dict(l=10, r=10, t=40, b=10),
        xaxis=dict(range=[-0.6, 1.6], showgrid=False, zeroline=False, tickvals=[0, 1],
                   ticktext=["query (attends from)", "key (attends to)"]),
        yaxis=dict(showgrid=False, zeroline=False, showticklabels=False), legend=dict(title="click to toggle"),
    )
    return fig


def model_view(att: list[np.ndarray], rows: list[str], cols: list[str], *, title: str) -> go.Figure:
    """Layer x head grid of small maps; att is per layer (H, T, T_k)."""
    n_layers, n_heads = len(att), att[0].shape[0]
    fig = make_subplots(rows=n_layers, cols=n_heads, horizontal_spacing=0.02, vertical_spacing=0.04,
                        row_titles=[f"layer {i}" for i in range(n_layers)],
                        column_titles=[f"head {h}" for h in range(n_heads)])
    for i, a in enumerate(att):
        for h in range(n_heads):
            fig.add_trace(go.Heatmap(
                z=np.round(a[h], 3), x=cols, y=rows, coloraxis="coloraxis",
                hovertemplate=f"layer {i} head {h}<br>query %{{y}}<br>key %{{x}}<br>weight %{{z:.3f}}<extra></extra>",
            ), row=i + 1, col=h + 1)
    fig.update_xaxes(showticklabels=False, type="category")
    fig.update_yaxes(showticklabels=False, type="category", autorange="reversed")
    fig.update_layout(title=title, height=150 + 190 * n_layers, margin=dict(l=10, r=30, t=60, b=10),
                      coloraxis=dict(colorscale="Blues", cmin=0, cmax=1, colorbar=dict(title="weight")))
    return fig


def bars(values: np.ndarray, labels: list[str], *, title: str, y_title: str, colour: str) -> go.Figure:
    """One bar per key token (masked keys drawn as empty)."""
    v = np.where(np.isfinite(values), values, np.nan)
    fig = go.Figure(go.Bar(x=labels, y=v, marker_color=colour,
                           hovertemplate=f"key %{{x}}<br>{y_title}: %{{y:.4f}}<extra></extra>"))
    fig.update_layout(title=title, height=280, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(title="key token", type="category"), yaxis=dict(title=y_title))
    return fig
