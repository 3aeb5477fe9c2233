"""Charts of the translation page: alignment heat map, beam search tree, next-token choices. No Streamlit here."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

STATUS_COLOURS = {"kept": "#1f77b4", "finished": "#2ca02c", "pruned": "#c7c7c7", "best": "#d62728"}


def alignment(weights: np.ndarray, source: list[str], output: list[str], title: str) -> go.Figure:
    """weights (T_out, S): row t is where the model looked while writing output token t."""
    fig = go.Figure(go.Heatmap(
        z=weights, x=[f"{i}:{s}" for i, s in enumerate(source)], y=[f"{t}:{o}" for t, o in enumerate(output)],
        colorscale="Blues", zmin=0, zmax=1, colorbar=dict(title="weight", thickness=10),
        hovertemplate="writing %{y}<br>source %{x}<br>weight %{z:.3f}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="output token")
    fig.update_xaxes(title="source character", tickangle=0)
    fig.update_layout(title=title, height=max(260, 28 * len(output) + 120), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def beam_tree(tree: list[list[dict]], piece, best: list[int], prefix_len: int = 0) -> go.Figure:
    """The search tree: one column per output step, one dot per candidate the beam looked at.

    tree[k] lists the candidates of step k with the index of their parent among step k-1's kept ones;
    the best hypothesis's path is red, finished ones green, pruned ones grey.
    """
    fig = go.Figure()
    prev_kept: list[tuple[float, float]] = [(prefix_len - 1, 0.0)]  # (x, y) of the alive hypotheses
    xs, ys, colours, texts, hovers = [], [], [], [], []
    best_path = set()
    for step, cands in enumerate(tree):
        x = prefix_len + step
        kept_here = []
        for rank, c in enumerate(cands):
            y = -rank
            px, py = prev_kept[c["parent"]] if c["parent"] < len(prev_kept) else prev_kept[0]
            on_best = step + prefix_len < len(best) and c["token"] == best[step + prefix_len] and \
                (step == 0 or (step - 1, c["parent"]) in best_path)
            status = "best" if on_best else c["status"]
            fig.add_scatter(x=[px, x], y=[py, y], mode="lines", hoverinfo="skip", showlegend=False,
                            line=dict(color=STATUS_COLOURS[status], width=2.5 if on_best else 1))
            xs.append(x)
            ys.append(y)
            colours.append(STATUS_COLOURS[status])
            texts.append(piece(c["token"]))
            hovers.append(f"step {x + 1}: {piece(c['token'])!r}<br>log-prob so far {c['score']:.2f}<br>{c['status']}")
            if c["status"] == "kept":
                if on_best:
                    best_path.add((step, len(kept_here)))
                kept_here.append((x, y))
        prev_kept = kept_here or prev_kept
    fig.add_scatter(x=xs, y=ys, mode="markers+text", text=texts, textposition="top center", hovertext=hovers,
                    hoverinfo="text", marker=dict(color=colours, size=9), showlegend=False)
    for name, colour in STATUS_COLOURS.items():
        fig.add_scatter(x=[None], y=[None], mode="markers", marker=dict(color=colour, size=9), name=name)
    fig.update_layout(height=380, margin=dict(l=10, r=10, t=30, b=10), title="Beam search tree",
                      xaxis=dict(title="output step", dtick=1), yaxis=dict(visible=False),
                      legend=dict(orientation="h", y=-0.15))
    return fig


def next_token_table(top: list[list[tuple[str, float]]], output: list[str]) -> list[dict]:
    """Rows for st.dataframe: at each step the chosen token and the model's five likeliest next tokens."""
    rows = []
    for t, (chosen, options) in enumerate(zip(output, top, strict=False)):
        row = {"step": t + 1, "chosen": chosen}
        for k, (p, prob) in enumerate(options, start=1):
            row[f"#{k}"] = f"{p} ({prob:.0%})"
        rows.append(row)
    return rows


def head_choices(n_layers: int, n_heads: int) -> list[str]:
    return ["average of all layers and heads"] + [f"layer {l + 1}, head {h + 1}" for l in range(n_layers)
                                                 for h in range(n_heads)]


def pick_heads(att: np.ndarray, choice: str, n_heads: int) -> np.ndarray:
    """att (T, L, H, S) -> (T, S): the average, or one layer and head named by head_choices()."""
    if choice.startswith("average"):
        return att.mean(axis=(1, 2))
    layer, head = (int(part.split()[-1]) - 1 for part in choice.split(", "))
    return att[:, layer, head]
