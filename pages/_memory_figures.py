"""Plotly figures of the memory lab, drawn from a race's JSON results (seqcore.tasks.memory_lab: MemoryLab.results),
the clipping experiment's section and the page's lecture.

Not a page (leading underscore): app.py lists pages explicitly.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from pages._shared import how_it_works

COLOURS = {"rnn": "#d62728", "lstm": "#1f77b4", "transformer": "#2ca02c"}
NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "transformer": "Transformer"}
_LAYOUT = dict(height=340, margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.25))


def _band(fig: go.Figure, xs: list, lo: list, hi: list, colour: str, name: str) -> None:
    """The min-max range over the seeds as a shaded band (one closed polygon: upper edge, then lower reversed)."""
    r, g, b = (int(colour[i: i + 2], 16) for i in (1, 3, 5))
    fig.add_scatter(x=xs + xs[::-1], y=hi + lo[::-1], mode="lines", fill="toself", fillcolor=f"rgba({r},{g},{b},0.15)",
                    line=dict(width=0), hoverinfo="skip", showlegend=False, name=f"{name} range")


def accuracy_figure(results: dict, budget: str, compare: dict | None = None) -> go.Figure:
    """Held-out accuracy against distance per model in one race (budget: steps | seconds): the mean over the
    seeds, the min-max range shaded when there are several; chance level; `compare` adds a second run dotted."""
    fig = go.Figure()
    for res, dash, suffix in ((results, "solid", ""), (compare, "dot", " (shipped)")):
        if not res or budget not in res.get("views", {}):
            continue
        xs = res["distances"]
        for arch, v in res["views"][budget].items():
            name = NAMES[arch] + suffix
            if v["seeds"] > 1 and not suffix:
                _band(fig, xs, v["min"], v["max"], COLOURS[arch], name)
            spread = "" if v["seeds"] == 1 else f", {v['seeds']} seeds"
            fig.add_scatter(x=xs, y=v["mean"], mode="lines+markers", name=name,
                            line=dict(color=COLOURS[arch], dash=dash),
                            hovertemplate="distance %{x}: %{y:.1%}<extra>" + name + spread + "</extra>")
    fig.add_hline(y=results["chance"], line_dash="dash", line_color="grey",
                  annotation_text=f"chance {results['chance']:.1%}", annotation_position="bottom right")
    fig.add_hline(y=0.9, line_dash="dot", line_color="lightgrey", annotation_text="90%",
                  annotation_position="top left")
    fig.update_layout(title=race_title(results, budget), xaxis_title="distance", yaxis_title="held-out accuracy",
                      yaxis_range=[0, 1.02], **_LAYOUT)
    return fig


def race_title(results: dict, budget: str) -> str:
    """'Equal steps: 2,000 per model' / 'Equal wall time: 60 s per model'."""
    if budget == "steps":
        return f"Equal steps: {results['budgets']['steps']['steps']:,} per model"
    return f"Equal wall time: {results['budgets']['seconds']['seconds']:g} s per model"


def race_note(results: dict, budget: str) -> str:
    """What each model took in this race, from the results: steps in the wall-time race, seconds otherwise."""
    v = results["views"][budget]
    if budget == "seconds":
        taken = ", ".join(f"{NAMES[a]} {m['steps']:,} steps" for a, m in v.items())
        return f"In the same time: {taken} (mean over seeds)."
    taken = ", ".join(f"{NAMES[a]} {m['clock_seconds']:.0f} s" for a, m in v.items())
    return f"The same steps took: {taken} (mean over seeds)."


def grad_norm_figure(results: dict) -> go.Figure:
    """||d loss / d x_t|| per input position t (log scale) in the first run, trained (solid) and at
    initialisation (dotted)."""
    fig = go.Figure()
    seq_len = results["task_config"]["seq_len"]
    for arch, m in results["grad_norms"].items():
        for which, dash in (("trained", "solid"), ("init", "dot")):
            # zeros (underflow to exactly 0.0) cannot sit on a log axis: they are left as gaps
            ys = [v if v > 0 else None for v in m[which]]
            fig.add_scatter(x=list(range(seq_len)), y=ys, mode="lines", name=f"{NAMES[arch]}, {which}",
                            line=dict(color=COLOURS[arch], dash=dash), connectgaps=False)
    if results["task_config"].get("kind", "recall") == "recall":
        pairs = results["task_config"]["n_pairs"]
        fig.add_vrect(x0=-0.5, x1=2 * pairs - 0.5, fillcolor="orange", opacity=0.15, line_width=0,
                      annotation_text="cue", annotation_position="top left")
        fig.add_vrect(x0=seq_len - 2.5, x1=seq_len - 0.5, fillcolor="purple", opacity=0.12, line_width=0,
                      annotation_text="query", annotation_position="top right")
    distance = next(iter(results["grad_norms"].values()))["distance"]
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


def loss_curves_figure(models: dict) -> go.Figure:
    """Validation loss against training time per model in one run (models: a run's {arch: result})."""
    fig = go.Figure()
    for arch, m in models.items():
        pts = [(h["elapsed"], h["val_loss"]) for h in m["history"] if h["val_loss"] is not None]
        fig.add_scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines", name=NAMES[arch],
                        line=dict(color=COLOURS[arch]))
    fig.update_layout(title="Validation loss during training", xaxis_title="seconds", yaxis_title="cross-entropy",
                      **_LAYOUT)
    return fig


def show_clipping(res: dict) -> None:
    """The clipping on/off experiment of a race (nothing when it was not run)."""
    clipping = res.get("clipping")
    if clipping:
        st.subheader("Exploding gradients: clipping on and off")
        on, off = clipping["runs"]["on"], clipping["runs"]["off"]
        st.caption(f"A vanilla RNN whose recurrent weights start at spectral radius {clipping['spectral_radius']:g}, "
                   f"trained {clipping['steps']} steps at distance {clipping['distance']} (lr {clipping['lr']:g}) "
                   f"twice from the same weights on the same batches. Largest gradient norm: "
                   f"{_fmt(on['max_grad_norm'])} with clipping, {_fmt(off['max_grad_norm'])} without. Held-out "
                   f"accuracy: {on['accuracy']:.1%} with clipping, {off['accuracy']:.1%} without "
                   f"(chance {res['chance']:.1%}).")
        norm_fig, loss_fig = clipping_figures(clipping)
        a, b = st.columns(2)
        a.plotly_chart(norm_fig, key="memory-lab-clip-norm")
        b.plotly_chart(loss_fig, key="memory-lab-clip-loss")


def _fmt(v: float | None) -> str:
    return "not finite" if v is None else f"{v:.3g}"


def lecture() -> None:
    """The "How it works" expander: the recurrences, BPTT's product of Jacobians, attention's direct path, parity."""
    how_it_works(
        [r"h_t = \tanh(W_{hh} h_{t-1} + W_{xh} x_t + b)",
         r"f_t = \sigma(W_f[h_{t-1}, x_t] + b_f),\; i_t = \sigma(W_i[h_{t-1}, x_t] + b_i),\; "
         r"o_t = \sigma(W_o[h_{t-1}, x_t] + b_o)",
         r"c_t = f_t \odot c_{t-1} + i_t \odot \tanh(W_c[h_{t-1}, x_t] + b_c),\qquad h_t = o_t \odot \tanh(c_t)",
         r"\frac{\partial L}{\partial x_t} = \frac{\partial L}{\partial h_T}"
         r"\prod_{k=t+1}^{T} \frac{\partial h_k}{\partial h_{k-1}} \frac{\partial h_t}{\partial x_t},\qquad "
         r"\frac{\partial h_k}{\partial h_{k-1}} = \mathrm{diag}(1 - h_k^2)\, W_{hh}",
         r"y_T = \sum_j \mathrm{softmax}\!\left(\frac{q_T k_j^\top}{\sqrt{d_k}}\right) v_j"],
        "**Backpropagation through time** unrolls the recurrence and multiplies one Jacobian per step between "
        "the input and the loss. When those factors are mostly below 1 (tanh saturates, small W_hh) the product "
        "shrinks exponentially with distance: the gradient *vanishes* and the RNN cannot learn to keep the cue. "
        "When they are above 1 it *explodes*; clipping rescales the gradient to a maximum norm before the step. (Our "
        "optimiser, AdamW, already divides each step by a running gradient scale, which blunts explosions; the "
        "clipping runs below measure how much clipping adds on top.) The LSTM's cell state "
        "is updated additively, c_t = f_t c_{t-1} + ..., so with forget gates near 1 the gradient can flow back "
        "almost unchanged. Attention gives the query a **direct path** to every earlier token: in recall, one head can "
        "mark each token with the one before it and a second find the queried key's mark, whatever the distance.\n\n"
        "**Parity** turns this around: nothing needs to survive untouched, every bit flips the answer. A recurrent "
        "state is a flip-flop updated each step; attention averages over positions, and the parity of a count is "
        "hard to read from an average.\n\n"
        "**Problem shape:** many-to-one (a sequence in, one answer out). **Baseline:** chance (1/8 values for recall, "
        "1/2 for parity). **A fair race:** each model's learning rate and warm-up come from a sweep "
        "(`python bench/memory_lab.py --sweep`), and the Transformer's last layer computes only the answer's position, "
        "as an RNN reads only its last state.",
        limits="synthetic tasks with small models and short budgets on the machine shown; wall time on a shared CPU "
               "varies with its load, and bigger models or longer training can change the distances.",
    )
