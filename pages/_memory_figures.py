"""Plotly figures of the memory lab, drawn from a race's JSON results (seqcore.tasks.memory_lab: MemoryLab.results).

Not a page (leading underscore): app.py lists pages explicitly.
"""

from __future__ import annotations

import plotly.graph_objects as go

COLOURS = {"rnn": "#d62728", "lstm": "#1f77b4", "transformer": "#2ca02c"}
NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "transformer": "Transformer"}
_LAYOUT = dict(height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))


def accuracy_figure(results: dict, compare: dict | None = None) -> go.Figure:
    """Held-out accuracy against distance per model, with chance level; `compare` adds a second run dotted."""
    fig = go.Figure()
    for res, dash, suffix in ((results, "solid", ""), (compare, "dot", " (shipped)")):
        if not res:
            continue
        for arch, m in res["models"].items():
            fig.add_scatter(x=res["distances"], y=m["accuracy"], mode="lines+markers", name=NAMES[arch] + suffix,
                            line=dict(color=COLOURS[arch], dash=dash),
                            hovertemplate="distance %{x}: %{y:.1%}<extra>" + NAMES[arch] + suffix + "</extra>")
    fig.add_hline(y=results["chance"], line_dash="dash", line_color="grey",
                  annotation_text=f"chance {results['chance']:.1%}", annotation_position="bottom right")
    fig.add_hline(y=0.9, line_dash="dot", line_color="lightgrey", annotation_text="90%",
                  annotation_position="top left")
    fig.update_layout(title="Recall accuracy on held-out sequences", xaxis_title="distance (distractors between "
                      "cue and query)", yaxis_title="accuracy", yaxis_range=[0, 1.02], **_LAYOUT)
    return fig


def grad_norm_figure(results: dict) -> go.Figure:
    """||d loss / d x_t|| per input position t (log scale), trained (solid) and at initialisation (dotted)."""
    fig = go.Figure()
    seq_len = results["task_config"]["seq_len"]
    for arch, m in results["models"].items():
        for which, dash in (("trained", "solid"), ("init", "dot")):
            # zeros (underflow to exactly 0.0) cannot sit on a log axis: they are left as gaps
            ys = [v if v > 0 else None for v in m["grad_norms"][which]]
            fig.add_scatter(x=list(range(seq_len)), y=ys, mode="lines", name=f"{NAMES[arch]}, {which}",
                            line=dict(color=COLOURS[arch], dash=dash), connectgaps=False)
    pairs = results["task_config"]["n_pairs"]
    fig.add_vrect(x0=-0.5, x1=2 * pairs - 0.5, fillcolor="orange", opacity=0.15, line_width=0,
                  annotation_text="cue", annotation_position="top left")
    fig.add_vrect(x0=seq_len - 2.5, x1=seq_len - 0.5, fillcolor="purple", opacity=0.12, line_width=0,
                  annotation_text="query", annotation_position="top right")
    distance = next(iter(results["models"].values()))["grad_norms"]["distance"]
    fig.update_layout(title=f"Gradient norm through time, distance {distance}", xaxis_title="input position t",
                      yaxis_title="||∂ loss / ∂ x_t||", yaxis_type="log", **_LAYOUT)
    return fig


def clipping_figures(clipping: dict) -> tuple[go.Figure, go.Figure]:
    """(gradient norm against step, log scale; training loss against step) for clipping on and off."""
    norm_fig, loss_fig = go.Figure(), go.Figure()
    colours = {"on": "#1f77b4", "off": "#d62728"}
    for name, run in clipping["runs"].items():
        label = "clipping at 1.0" if name == "on" else "no clipping"
        steps = [h["step"] for h in run["history"]]
        norm_fig.add_scatter(x=steps, y=[h["grad_norm"] for h in run["history"]], mode="lines", name=label,
                             line=dict(color=colours[name]))
        loss_fig.add_scatter(x=steps, y=[h["train_loss"] for h in run["history"]], mode="lines", name=label,
                             line=dict(color=colours[name]))
    norm_fig.add_hline(y=1.0, line_dash="dash", line_color="grey", annotation_text="clip threshold 1.0")
    norm_fig.update_layout(title="Gradient norm before clipping", xaxis_title="step", yaxis_title="global norm",
                           yaxis_type="log", **_LAYOUT)
    loss_fig.update_layout(title="Training loss", xaxis_title="step", yaxis_title="cross-entropy", **_LAYOUT)
    return norm_fig, loss_fig


def loss_curves_figure(results: dict) -> go.Figure:
    """Validation loss against training time per model: the equal wall-time budgets side by side."""
    fig = go.Figure()
    for arch, m in results["models"].items():
        pts = [(h["elapsed"], h["val_loss"]) for h in m["history"] if h["val_loss"] is not None]
        fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines", name=NAMES[arch],
                        line=dict(color=COLOURS[arch]))
    fig.update_layout(title="Validation loss during training", xaxis_title="seconds", yaxis_title="cross-entropy",
                      **_LAYOUT)
    return fig
