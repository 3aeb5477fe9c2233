"""Figures for the attention explorer: labelled heat maps, the head view (HTML), the model grid, and the
Streamlit drawing of a chart with its CSV downloads and of the step-through and neuron views.

Not a page (leading underscore). Drawing only: the numbers come from seqcore.tasks.attention_maths.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from plotly.colors import qualitative

from pages._shared import safe_filename
from seqcore.tasks import attention_maths as am

HEAD_COLOURS = qualitative.Plotly + qualitative.Dark24


def head_colour(h: int) -> str:
    return HEAD_COLOURS[h % len(HEAD_COLOURS)]


def _z(matrix: np.ndarray) -> np.ndarray:
    """Rounded values (the JSON goes to the browser), masked -inf cells as NaN: drawn blank, no hover."""
    m = np.atleast_2d(np.asarray(matrix, dtype=np.float64))
    return np.round(np.where(np.isfinite(m), m, np.nan), 5)


class Panel(NamedTuple):
    """One matrix of a figure: column labels (None numbers them), a title, and weights=True for 0..1 colours."""

    matrix: np.ndarray
    cols: list[str] | None
    name: str = ""
    weights: bool = False


def heatmap(matrix: np.ndarray, rows: list[str], cols: list[str] | None, *, title: str, x_title: str, y_title: str,
            weights: bool = False, height: int | None = None) -> dict:
    """One labelled heat map with hover values, as a plotly figure dict; weights=True pins the colours to 0..1.

    cols=None numbers the columns (model dimensions): plotly then picks a few ticks instead of laying out
    one rotated label per column, which was a large share of the browser's drawing time.
    """
    return heatmap_panels([Panel(matrix, cols, "", weights)], rows, title=title, x_title=x_title, y_title=y_title,
                          height=height)


def heatmap_panels(panels: list[Panel], rows: list[str], *, title: str, x_title: str, y_title: str,
                   height: int | None = None) -> dict:
    """Matrices that share their rows, side by side in one figure (hover gives each value).

    Each plotly chart costs the browser far more than a panel (its own layout pass, modebar and resize
    handling in Streamlit), so the step-through draws related matrices as panels of one figure. Panels of
    values share one diverging scale around 0; weight panels share a 0..1 scale. A dict, not go.Figure:
    plotly's per-property validation was most of the script's time, and st.plotly_chart validates once anyway.
    """
    n = len(panels)
    gap = 0.05 if n > 1 else 0.0
    width = (1 - gap * (n - 1)) / n
    both = len({p.weights for p in panels}) == 2
    data, annotations, layout = [], [], {}
    for i, p in enumerate(panels):
        xa, suffix = ("x", "") if i == 0 else (f"x{i + 1}", str(i + 1))
        z = _z(p.matrix)
        small = len(rows) < 60 and z.shape[1] < 60 and p.cols is not None
        hover = f"{y_title}: %{{y}}<br>{x_title}: %{{x}}<br>value: %{{z:.4g}}<extra></extra>"
        data.append({"type": "heatmap", "z": z.tolist(), "y": rows, "xaxis": xa, "yaxis": "y",
                     "coloraxis": "coloraxis2" if both and p.weights else "coloraxis",
                     **({"x": p.cols} if p.cols is not None else {}),
                     # gaps make plotly paint each cell on a full-size canvas: only worth it for token x token maps
                     **({"xgap": 1, "ygap": 1} if small else {}),
                     "hovertemplate": (f"{p.name}<br>" if p.name else "") + hover})
        x0 = i * (width + gap)
        axis = {"domain": [round(x0, 6), round(min(1.0, x0 + width), 6)], "anchor": "y",
                "title": {"text": x_title}}
        if p.cols is not None:
            axis |= {"type": "category", "tickangle": -60 if len(p.cols) > 6 else 0}
        layout[f"xaxis{suffix}"] = axis
        if p.name and n > 1:
            annotations.append({"text": p.name, "x": x0 + width / 2, "y": 1, "xref": "paper", "yref": "paper",
                                "xanchor": "center", "yanchor": "bottom", "showarrow": False})
    values = dict(colorscale="RdBu", cmid=0, colorbar=dict(thickness=12))
    weights = dict(colorscale="Blues", cmin=0, cmax=1, colorbar=dict(thickness=12, title={"text": "weight"}))
    if both:
        values["colorbar"] |= {"x": 1.01, "xanchor": "left", "title": {"text": "value"}}
        weights["colorbar"] |= {"x": 1.09, "xanchor": "left"}
        layout["coloraxis2"] = weights
    layout |= {"title": {"text": title}, "height": height or min(720, 140 + 22 * len(rows)) + (20 if n > 1 else 0),
               "margin": dict(l=10, r=10, t=60 if n > 1 else 40, b=10),
               "yaxis": {"title": {"text": y_title}, "type": "category", "autorange": "reversed"},
               "coloraxis": weights if panels[0].weights and not both else values, "annotations": annotations}
    return {"data": data, "layout": layout}


HEAD_VIEW_TEMPLATE = Path(__file__).parent / "_components" / "head_view.html"


def json_for_html(obj) -> str:
    """JSON that is safe inside an HTML <script> block: typed text must not be able to close the block.

    "<", ">" and "&" only occur inside JSON strings, where the \\u escapes decode to the same characters, so
    the data round-trips exactly while "</script>" or "<!--" can never appear in the page source.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"),
                    ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


@functools.cache
def _head_view_template() -> str:
    return HEAD_VIEW_TEMPLATE.read_text(encoding="utf-8")


def head_view_html(lines: list[tuple[int, int, int, float]], queries: list[str], keys: list[str], n_heads: int,
                   *, title: str, min_weight: float = 0.02) -> str:
    """The head view as one self-contained HTML page (SVG + vanilla JS shipped in the repo, no network).

    lines are (head, query i, key j, weight) from attention_maths.head_view_lines; hovering a token in the
    browser shows only its lines, and a checkbox per head toggles that head.
    """
    data = {"title": title, "queries": queries, "keys": keys, "min_weight": min_weight,
            "heads": [{"head": h, "colour": head_colour(h)} for h in range(n_heads)],
            "lines": [[h, i, j, round(w, 3)] for h, i, j, w in lines]}
    return _head_view_template().replace("__DATA__", json_for_html(data))


def head_view_height(queries: list[str], keys: list[str]) -> int:
    """Pixels for the head view's frame: its header and a 20 px row per token, capped (the frame scrolls)."""
    return min(900, 110 + 20 * max(len(queries), len(keys)))


def _domain(lo: float, hi: float) -> list[float]:
    """An axis domain kept inside [0, 1]: plotly rejects the -5e-17 that float sums leave at the edges."""
    return [round(min(max(lo, 0.0), 1.0), 6), round(min(max(hi, 0.0), 1.0), 6)]


def model_view(att: list[np.ndarray], *, title: str, selected: tuple[int, int] | None = None) -> dict:
    """Layer x head grid of small maps (att is per layer (H, T, T_k)), as a plotly figure dict.

    Built as a dict, not with make_subplots: that validates every axis and trace and took most of the
    page's time on big grids. Plotly cannot select heat-map cells, so each map carries one transparent
    scatter point; with hoverdistance -1 that point answers hover and click anywhere in its map, and
    st.plotly_chart(on_select=...) reports its customdata [layer, head] (see clicked_cell).
    """
    n_layers, n_heads = len(att), att[0].shape[0]
    n_q, n_k = att[0].shape[1], att[0].shape[2]
    gx, gy = 0.02, 0.04
    w, h_ = (1 - gx * (n_heads - 1)) / n_heads, (1 - gy * (n_layers - 1)) / n_layers
    data, annotations, shapes = [], [], []
    layout: dict = {}
    for i, a in enumerate(att):
        y1 = 1 - i * (h_ + gy)
        for h in range(n_heads):
            k = i * n_heads + h + 1
            xa, ya = f"x{k}" if k > 1 else "x", f"y{k}" if k > 1 else "y"
            x0 = h * (w + gx)
            # Whole percents as uint8: the small maps show colour only (their hover is the click target), and
            # plotly sends a numpy array as base64 bytes, ~4x smaller than JSON numbers and far quicker to
            # validate and encode (a 200-token text has 12 maps of 40,000 cells).
            data.append({"type": "heatmap", "z": np.rint(np.clip(a[h], 0, 1) * 100).astype(np.uint8),
                         "xaxis": xa, "yaxis": ya, "coloraxis": "coloraxis", "hoverinfo": "skip"})
            data.append({"type": "scatter", "mode": "markers", "x": [(n_k - 1) / 2], "y": [(n_q - 1) / 2],
                         "xaxis": xa, "yaxis": ya, "customdata": [[i, h]], "showlegend": False,
                         "marker": {"color": "rgba(0,0,0,0)", "size": 1},
                         "hovertemplate": f"layer {i}, head {h}<br>click to enlarge<extra></extra>"})
            axis = dict(showticklabels=False, ticks="", showgrid=False, zeroline=False, fixedrange=True)
            layout[f"xaxis{k if k > 1 else ''}"] = {**axis, "domain": _domain(x0, x0 + w), "anchor": ya,
                                                     "range": [-0.5, n_k - 0.5]}
            layout[f"yaxis{k if k > 1 else ''}"] = {**axis, "domain": _domain(y1 - h_, y1), "anchor": xa,
                                                     "range": [n_q - 0.5, -0.5]}
            if selected == (i, h):
                shapes.append({"type": "rect", "xref": f"{xa} domain", "yref": f"{ya} domain", "x0": -0.02,
                               "x1": 1.02, "y0": -0.02, "y1": 1.02, "line": {"color": "#d62728", "width": 3}})
            if i == 0:
                annotations.append({"text": f"head {h}", "x": x0 + w / 2, "y": 1, "xref": "paper", "yref": "paper",
                                    "xanchor": "center", "yanchor": "bottom", "showarrow": False})
        annotations.append({"text": f"layer {i}", "x": 1, "y": y1 - h_ / 2, "xref": "paper", "yref": "paper",
                            "xanchor": "left", "yanchor": "middle", "xshift": 4, "textangle": 90,
                            "showarrow": False})
    layout.update(title={"text": title}, height=150 + 190 * n_layers, margin=dict(l=10, r=30, t=60, b=10),
                  coloraxis={"colorscale": "Blues", "cmin": 0, "cmax": 100,
                             "colorbar": {"title": {"text": "weight"}, "x": 1.04, "tickvals": [0, 25, 50, 75, 100],
                                          "ticktext": ["0", "0.25", "0.5", "0.75", "1"]}},
                  hovermode="closest", hoverdistance=-1, dragmode=False, annotations=annotations, shapes=shapes)
    return {"data": data, "layout": layout}


def clicked_cell(points: list[dict] | None) -> tuple[int, int] | None:
    """(layer, head) of the model-view map that a selection event's first point belongs to, if any."""
    for p in points or []:
        cd = p.get("customdata")
        if isinstance(cd, list | tuple) and len(cd) >= 2:
            return int(cd[0]), int(cd[1])
    return None


def bars(values: np.ndarray, labels: list[str], *, title: str, y_title: str, colour: str) -> go.Figure:
    """One bar per key token (masked keys drawn as empty)."""
    v = np.where(np.isfinite(values), values, np.nan)
    fig = go.Figure(go.Bar(x=labels, y=v, marker_color=colour,
                           hovertemplate=f"key %{{x}}<br>{y_title}: %{{y:.4f}}<extra></extra>"))
    fig.update_layout(title=title, height=280, margin=dict(l=10, r=10, t=40, b=10),
                      xaxis=dict(title="key token", type="category"), yaxis=dict(title=y_title))
    return fig


# ---------------------------------------------------------------- Streamlit: charts with their CSVs, two views


def show(fig, key: str, matrix: np.ndarray, rows: list[str] | None, cols: list[str] | None) -> None:
    """A chart (PNG from its modebar camera) and a CSV download of the matrix behind it."""
    show_panels(fig, key, [("", matrix, rows, cols)])


def show_panels(fig, key: str, tables: list[tuple[str, np.ndarray, list[str] | None, list[str] | None]]) -> None:
    """A chart of one or more matrices (PNG from its modebar camera) and a CSV download per matrix.

    The CSV text is made only when its button is clicked (a callable): writing every matrix on every rerun
    cost more than drawing them.
    """
    st.plotly_chart(fig, key=f"attention-fig-{key}",
                    config={"toImageButtonOptions": {"format": "png", "filename": safe_filename(f"attention-{key}")}})
    places = st.columns(len(tables)) if len(tables) > 1 else [st.container()]
    for place, (name, matrix, rows, cols) in zip(places, tables, strict=True):
        part = f"-{name}" if name else ""
        place.download_button(f"CSV {name}".strip(), functools.partial(am.matrix_csv, matrix, rows, cols),
                              file_name=safe_filename(f"attention-{key}{part}.csv"), mime="text/csv",
                              key=f"attention-csv-{key}{part}", on_click="ignore", icon=":material/download:")


def draw_step_through(probe, steps: am.HeadSteps, check: dict, *, q_labels: list[str], k_labels: list[str],
                      stem: str) -> None:
    """One head of one layer from tokens to its output, each step's matrices as panels of one chart."""
    layer, head, kind, temperature = steps.layer, steps.head, steps.kind, steps.temperature
    dims = [f"d{j}" for j in range(steps.token_embeddings.shape[1])]
    kd = [f"d{j}" for j in range(steps.d_k)]
    st.markdown(f"Layer {layer}, head {head} ({kind}-attention), d_k = {steps.d_k}, temperature {temperature:g}. "
                "Shown in full: hiding special tokens applies to the other views.")
    st.caption(f"Check against the model itself: largest |difference| of the weights at temperature 1 "
               f"{check['weights']:.1e}; of the heads' weighted sums after the output projection "
               f"{check['output']:.1e}.")
    ids = probe.x[0].tolist() if probe.x.dim() == 2 else None
    st.markdown("**1. Tokens**")
    st.dataframe({"position": list(range(len(probe.tokens))), "token": probe.tokens,
                  **({"id": ids} if ids is not None else {})}, hide_index=True, key="attention-tokens", height=180)
    after = "" if layer == 0 else f", then the residual stream into layer {layer}"
    # Each step's matrices share one figure (as panels): the browser's cost is mostly per chart and a new
    # text redraws every chart of this tab (bench/pages.py's new-text action, same box and load: 11 charts
    # 1.1-1.9 s, 4 charts 0.7-1.2 s).
    st.markdown(f"**2. Embeddings plus positions**{after}")
    parts = [("token embedding", steps.token_embeddings)]
    if steps.positions is not None:
        parts.append(("position vector", steps.positions))
    parts.append((f"input to layer {layer}", steps.layer_input))
    show_panels(heatmap_panels([Panel(m, None, name) for name, m in parts], q_labels, title="Embeddings",
                               x_title="dimension", y_title="token"),
                f"{stem}-embed", [(name, m, q_labels, dims) for name, m in parts])
    st.markdown(f"**3. Queries, keys, values of head {head}** (from the LayerNorm'd input)")
    qkv = [("Q", steps.q, q_labels), ("K", steps.k, k_labels), ("V", steps.v, k_labels)]
    # Panels share their rows: cross-attention's keys and values have other rows than its queries.
    for group in [qkv] if kind == "self" else [qkv[:1], qkv[1:]]:
        names = "".join(name for name, _, _ in group)
        show_panels(heatmap_panels([Panel(m, None, name) for name, m, _ in group], group[0][2],
                                   title=", ".join(name for name, _, _ in group), x_title="head dimension",
                                   y_title="token"),
                    f"{stem}-H{head}-{names}", [(name, m, lab, kd) for name, m, lab in group])
    st.markdown("**4. Scores, scaling, mask, softmax** (the first three share one colour scale, so the "
                f"division by √{steps.d_k} shows as paler colours)")
    if steps.allowed is None:
        st.info("No mask here: every query may attend to every key.")
    scores = [("scores", Panel(steps.scores, k_labels, "scores QKᵀ")),
              ("scaled", Panel(steps.scaled, k_labels, f"scaled: QKᵀ / √{steps.d_k}"))]
    if steps.allowed is not None:
        scores.append(("masked", Panel(steps.masked, k_labels, "causal mask: -inf blank")))
    scores.append(("softmax", Panel(steps.weights, k_labels, f"softmax, temperature {temperature:g}", True)))
    # The step's matrices are one chart, read left to right, under the key of its result (the weights).
    show_panels(heatmap_panels([p for _, p in scores], q_labels, title="Scores → weights", x_title="key",
                               y_title="query"),
                f"{stem}-H{head}-weights", [(short, p.matrix, q_labels, k_labels) for short, p in scores])
    st.markdown("**5. Weighted sum of V** (this head's output; the heads are concatenated and projected)")
    show(heatmap(steps.output, q_labels, None, title="softmax(·) V", x_title="head dimension", y_title="query"),
         f"{stem}-H{head}-output", steps.output, q_labels, kd)


def draw_neuron_view(nv: am.NeuronView, *, query: int, head: int, d_k: int, temperature: float,
                     q_labels: list[str], k_labels: list[str], stem: str) -> None:
    """How one query scores every key: q, each k, q ∘ k, q · k and the softmax, each with its CSV."""
    kd = [f"d{j}" for j in range(d_k)]
    cols = st.columns([1, 2, 2])
    with cols[0]:
        show(heatmap(nv.q[None, :], [q_labels[query]], None, title="q", x_title="head dimension", y_title="query",
                     height=180), f"{stem}-H{head}-q{query}", nv.q[None, :], [q_labels[query]], kd)
    with cols[1]:
        show(heatmap(nv.k, k_labels, None, title="k for each key", x_title="head dimension", y_title="key"),
             f"{stem}-H{head}-keys", nv.k, k_labels, kd)
    with cols[2]:
        show(heatmap(nv.qk, k_labels, None, title="q ∘ k (elementwise)", x_title="head dimension", y_title="key"),
             f"{stem}-H{head}-qk{query}", nv.qk, k_labels, kd)
    left, right = st.columns(2)
    left.plotly_chart(bars(nv.dot, k_labels, title="q · k", y_title="q·k", colour=head_colour(head)),
                      key="attention-fig-dot")
    right.plotly_chart(bars(nv.weights, k_labels, title=f"softmax(q·k / √{d_k} / {temperature:g})",
                            y_title="weight", colour=head_colour(head)), key="attention-fig-softmax")
    table = np.stack([nv.dot, nv.scaled, nv.weights], axis=1)
    st.download_button("CSV", functools.partial(am.matrix_csv, table, k_labels, ["q.k", "scaled", "softmax"]),
                       file_name=safe_filename(f"attention-{stem}-H{head}-neuron{query}.csv"), mime="text/csv",
                       key="attention-csv-neuron", on_click="ignore", icon=":material/download:")
