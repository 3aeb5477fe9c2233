"""Attention explorer: step through softmax(QK^T/sqrt(d_k))V inside any Transformer checkpoint."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import streamlit as st
import torch

from pages._attention_figures import (
    Panel,
    bars,
    clicked_cell,
    head_colour,
    head_view_height,
    head_view_html,
    heatmap,
    heatmap_panels,
    model_view,
)
from pages._shared import (
    checkpoint_problem,
    how_it_works,
    safe_filename,
    show_job,
    start_job,
    trained,
    unreadable_shipped,
)
from seqcore.checkpoints import file_version
from seqcore.errors import CheckpointError, SeqcoreError
from seqcore.tasks import attention_maths as am
from seqcore.tasks.attention import DEFAULT_NAME, EXAMPLE, MAX_CHARS
from seqcore.tasks.probe import probe_for, transformer_checkpoints

MY_TEXT, EXAMPLE_INPUT = "My text", "The model's own example"


def find_info(source: str, name: str):
    return next(c for c in transformer_checkpoints() if c.source == source and c.name == name)


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def cached_model(source: str, name: str, version: tuple):
    """The checkpoint's probe on its own example: its model loaded once per file version (`version`, the weights'
    and card's mtime and size, is in the key so a retrained checkpoint is read again; no underscore, which
    Streamlit would leave out of the key). Shared, read-only, in eval mode."""
    return probe_for(find_info(source, name), None)


@st.cache_resource(max_entries=16, show_spinner="Reading the input...")
def cached_probe(source: str, name: str, version: tuple, text: str | None):
    """The probe for one input. Its model is cached_model's (the task loads a checkpoint once per file version,
    seqcore.checkpoints.shared_load), so these entries hold inputs, not model copies."""
    base = cached_model(source, name, version)
    if text is None:
        return base
    return dataclasses.replace(probe_for(find_info(source, name), text), model=base.model)


RETRAIN_JOB = "att-retrain-job"


def start_retrain():
    """Retrain the explorer's own model with `seqcore train attention`'s defaults (cut to this server's
    5-minute limit) into the user registry, where the explorer finds it; the shipped file is left alone."""
    import shutil
    import tempfile

    from seqcore.checkpoints import user_dir
    from seqcore.tasks import attention

    def run(on_progress, stop):
        with tempfile.TemporaryDirectory() as tmp:  # a run stopped before its first step saves nothing
            card = attention.train(seconds=300, out=tmp, on_progress=on_progress, stop=stop,
                                   command="retrained on the attention page")
            if not card["training"]["steps"]:
                return None
            user_dir().mkdir(parents=True, exist_ok=True)
            for suffix in (".json", ".safetensors"):
                shutil.copyfile(f"{tmp}/{DEFAULT_NAME}{suffix}", user_dir() / f"{DEFAULT_NAME}{suffix}")
        return card

    return start_job(RETRAIN_JOB, run, name="attention")


def show(fig, key: str, matrix: np.ndarray, rows: list[str] | None, cols: list[str] | None) -> None:
    """A chart (PNG from its modebar camera) and a CSV download of the matrix behind it."""
    show_panels(fig, key, [("", matrix, rows, cols)])


def show_panels(fig, key: str, tables: list[tuple[str, np.ndarray, list[str] | None, list[str] | None]]) -> None:
    """A chart of one or more matrices (PNG from its modebar camera) and a CSV download per matrix.

    The CSV text is made only when its button is clicked (a callable): writing every matrix on every rerun
    cost more than drawing them.
    """
    st.plotly_chart(fig, key=f"att-fig-{key}",
                    config={"toImageButtonOptions": {"format": "png", "filename": safe_filename(f"attention-{key}")}})
    places = st.columns(len(tables)) if len(tables) > 1 else [st.container()]
    for place, (name, matrix, rows, cols) in zip(places, tables, strict=True):
        part = f"-{name}" if name else ""
        place.download_button(f"CSV {name}".strip(), functools.partial(am.matrix_csv, matrix, rows, cols),
                              file_name=safe_filename(f"attention-{key}{part}.csv"), mime="text/csv",
                              key=f"att-csv-{key}{part}", on_click="ignore", icon=":material/download:")


def enlarge_clicked() -> None:
    """A click on a small map of the model view selects its hidden point: enlarge that layer and head."""
    event = st.session_state.get("att-fig-modelview")
    cell = clicked_cell(event["selection"]["points"] if event else None)
    if cell is not None:
        st.session_state["att-mv-cell"] = cell


st.title("Attention explorer")
st.warning("Attention weights show where each head looked, not why the model decided: they are not an "
           "explanation. Rollout and head averages are rough summaries of them.", icon=":material/info:")
how_it_works(
    [r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V,"
     r"\qquad Q = XW_Q,\; K = XW_K,\; V = XW_V",
     r"\text{here: } \mathrm{softmax}\!\left(\left(\frac{QK^\top}{\sqrt{d_k}} + M\right) / \tau\right) V",
     r"M_{ij} = \begin{cases} 0 & j \le i \\ -\infty & j > i \ \text{(causal)} \end{cases}",
     r"\tilde A_\ell = \tfrac12 A_\ell + \tfrac12 I,\qquad \mathrm{rollout} = \tilde A_L \cdots \tilde A_1"],
    "Each token becomes an embedding plus a position vector; a LayerNorm'd copy is projected to a query, "
    "a key and a value per head (d_k = d_model / heads). Scores QK^T are scaled by sqrt(d_k) so their size "
    "does not grow with d_k, the causal mask hides the future, and the softmax (temperature tau = 1 in the "
    "model) turns each row into weights that sum to 1; the head outputs the weighted sum of V. "
    "**Step-through** recomputes one head from the model's own layers and checks it against the model. "
    "**Head view**: queries left, keys right, one colour per head. **Model view**: every layer and head. "
    "**Neuron view**: q, each k, their elementwise product and dot product for one query. "
    "**Average & rollout**: the mean over heads, and rollout (Abnar & Zuidema 2020), which multiplies "
    "the layers' averaged attention with the residual path mixed in.",
    limits="attention weights are not an explanation: the values, the MLPs and the residual stream carry "
           "much of what a model computes, and different weights can give the same prediction.",
)

checkpoints = transformer_checkpoints()
if not checkpoints:
    st.error("No Transformer checkpoint is available. Train the explorer's own model with "
             "`seqcore train attention` (about 4 minutes on a CPU), then reload this page.")
    st.stop()
if (_why := unreadable_shipped([DEFAULT_NAME]).get(DEFAULT_NAME)) and DEFAULT_NAME not in {c.name for c in checkpoints}:
    # the registry skips a corrupt card, so the explorer's own model would vanish without a word
    _job = st.session_state.get(RETRAIN_JOB)
    checkpoint_problem(f"The explorer's own model {DEFAULT_NAME} cannot be used: {_why}. Press Retrain to train it "
                       "again (up to 5 minutes; the shipped file is left as it is); meanwhile another model is shown.",
                       key="att-retrain", name=DEFAULT_NAME, busy=_job is not None and _job.running,
                       retrain=start_retrain, where="below")
    show_job(RETRAIN_JOB)
labels = [f"{c.name} ({c.task}, {c.source})" for c in checkpoints]
default = next((i for i, c in enumerate(checkpoints) if c.name == DEFAULT_NAME), 0)
_retrained = st.session_state.get(RETRAIN_JOB)
if trained(_retrained) is not None and st.session_state.get("att-retrain-shown") is not _retrained:
    # show the retrained model once (user checkpoints come first, so `default` is it), fresh from disk
    st.session_state["att-retrain-shown"] = _retrained
    st.session_state["att-model"] = default
    cached_model.clear()
    cached_probe.clear()
choice = st.selectbox("Model", range(len(checkpoints)), index=default, format_func=labels.__getitem__,
                      key="att-model", help="Every Transformer in the checkpoint registry; other pages add theirs")
info = checkpoints[choice]
source = st.radio("Input", [MY_TEXT, EXAMPLE_INPUT], horizontal=True, key="att-source")
text = None
if source == MY_TEXT:
    text = st.text_input("Text", value=EXAMPLE, key="att-text",
                         help=f"Any Unicode; the explorer's own model reads up to {MAX_CHARS} characters")
    if not text.strip():
        st.error(f"The text is empty: type at least one character, or choose '{EXAMPLE_INPUT}'.")
        st.stop()
try:
    probe = cached_probe(info.source, info.name, file_version(info.stem), text)
    got = am.run_model(probe)
except CheckpointError as e:
    own = info.name == DEFAULT_NAME
    busy = st.session_state.get(RETRAIN_JOB) is not None and st.session_state[RETRAIN_JOB].running
    checkpoint_problem(f"The checkpoint {info.name} cannot be used: {e}. "
                       + ("Press Retrain to train the explorer's model again (up to 5 minutes; the shipped file is "
                          "left as it is), or pick another model above."
                          if own else f"Retrain it on the {info.task} page, or pick another model above."),
                       key="att-retrain", name=info.name, busy=busy, retrain=start_retrain if own else None,
                       where="below")
    if own:
        show_job(RETRAIN_JOB)
    st.stop()
except SeqcoreError as e:
    st.error(f"Cannot use this input with {info.name}: {e}")
    st.stop()
except ValueError as e:  # e.g. a sequence longer than the model's max_len
    st.error(f"{info.name} cannot take this input ({e}); use a shorter one.")
    st.stop()
if probe.note:
    st.caption(probe.note)

cfg = probe.model.config
q_labels = am.token_labels(probe.tokens)
c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1.7, 1.5])
layer = c1.selectbox("Layer", range(cfg.n_layers), key="att-layer")
head = c2.selectbox("Head", range(cfg.n_heads), key="att-head")
kinds = ["self", "cross"] if got.cross_attention is not None else ["self"]
kind = c3.selectbox("Attention", kinds, key="att-kind", help="cross: queries from the text, keys from the context")
temperature = c4.slider("Softmax temperature", 0.1, 5.0, 1.0, 0.1, key="att-temp",
                        help="Divides the scaled scores; 1 is what the model uses, lower is sharper")
hide = c5.toggle("Hide special tokens", key="att-hide", help="Drop <bos>/padding rows and columns; rows renormalised")
k_tokens = am.key_tokens(probe, kind)
k_labels = am.token_labels(k_tokens)
layers = got.self_attention if kind == "self" else got.cross_attention
rows = am.keep_indices(probe.special, len(q_labels), hide)
cols = rows if kind == "self" else list(range(len(k_labels)))
shown_q, shown_k = [q_labels[i] for i in rows], [k_labels[j] for j in cols]
stem = f"{info.name}-L{layer}"

# Only the open tab runs and draws (on_change="rerun"): sending every view's figures on each rerun made a
# new input take ~2 s in the browser (bench/pages.py).
tab_step, tab_head, tab_model, tab_neuron, tab_avg = st.tabs(
    ["Step-through", "Head view", "Model view", "Neuron view", "Average & rollout"], key="att-view",
    on_change="rerun")

with torch.inference_mode():
    steps = am.step_through(probe, layer, head, temperature=temperature, kind=kind)
    check = am.verify(probe, layer, kind)
dims = [f"d{j}" for j in range(steps.token_embeddings.shape[1])]
kd = [f"d{j}" for j in range(steps.d_k)]  # head dimensions: the step-through and the neuron view

if tab_step.open:
    with tab_step:
        st.markdown(f"Layer {layer}, head {head} ({kind}-attention), d_k = {steps.d_k}, temperature {temperature:g}. "
                    "Shown in full: hiding special tokens applies to the other views.")
        st.caption(f"Check against the model itself: largest |difference| of the weights at temperature 1 "
                   f"{check['weights']:.1e}; of the heads' weighted sums after the output projection "
                   f"{check['output']:.1e}.")
        ids = probe.x[0].tolist() if probe.x.dim() == 2 else None
        st.markdown("**1. Tokens**")
        st.dataframe({"position": list(range(len(probe.tokens))), "token": probe.tokens,
                      **({"id": ids} if ids is not None else {})}, hide_index=True, key="att-tokens", height=180)
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
        groups = [qkv] if kind == "self" else [qkv[:1], qkv[1:]]
        for group in groups:
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

if tab_head.open:
    with tab_head:
        att = am.hide_tokens(layers[layer], rows, cols)
        lines = am.head_view_lines(att, list(range(cfg.n_heads)))
        with st.container(key="att-headview"):
            # st.iframe runs the view's own JS (pages/_components/head_view.html); the user's text reaches it
            # only as escaped JSON (json_for_html), so typed markup is shown, never run.
            st.iframe(head_view_html(lines, shown_q, shown_k, cfg.n_heads, title=f"Layer {layer}, {kind}-attention"),
                      height=head_view_height(shown_q, shown_k))
        st.caption(f"{len(lines)} lines of weight ≥ 0.02 over {cfg.n_heads} heads. Queries on the left attend to "
                   "keys on the right; thicker, darker lines carry more weight. Hover a line for its value.")

if tab_model.open:
    with tab_model:
        grid = [am.hide_tokens(a, rows, cols) for a in layers]
        cells = [(i, h) for i in range(cfg.n_layers) for h in range(cfg.n_heads)]
        # The selectbox holds the enlarged cell: a click sets it (enlarge_clicked), and it is the keyboard's way
        # (and AppTest's, which cannot click a chart) to the same place.
        if st.session_state.get("att-mv-cell") not in cells:
            st.session_state["att-mv-cell"] = (layer, head)
        cell = st.session_state["att-mv-cell"]
        st.plotly_chart(model_view(grid, title=f"All layers and heads ({kind}-attention): click a map to enlarge it",
                                   selected=cell),
                        key="att-fig-modelview", on_select=enlarge_clicked, selection_mode="points")
        cell = st.selectbox("Enlarged", cells, key="att-mv-cell", format_func=lambda c: f"layer {c[0]}, head {c[1]}")
        show(heatmap(grid[cell[0]][cell[1]], shown_q, shown_k, title=f"layer {cell[0]}, head {cell[1]}",
                     x_title="key", y_title="query", weights=True),
             f"{info.name}-L{cell[0]}-H{cell[1]}-grid", grid[cell[0]][cell[1]], shown_q, shown_k)

if tab_neuron.open:
    with tab_neuron:
        query = st.selectbox("Query token", range(len(q_labels)), index=len(q_labels) - 1, key="att-nv-query",
                             format_func=q_labels.__getitem__)
        nv = am.neuron_view(steps, query)
        st.markdown(f"Layer {layer}, head {head}: how query **{q_labels[query]}** scores every key. "
                    "Each row of q ∘ k sums to q·k.")
        cols6 = st.columns([1, 2, 2])
        with cols6[0]:
            show(heatmap(nv.q[None, :], [q_labels[query]], None, title="q", x_title="head dimension", y_title="query",
                         height=180), f"{stem}-H{head}-q{query}", nv.q[None, :], [q_labels[query]], kd)
        with cols6[1]:
            show(heatmap(nv.k, k_labels, None, title="k for each key", x_title="head dimension", y_title="key"),
                 f"{stem}-H{head}-keys", nv.k, k_labels, kd)
        with cols6[2]:
            show(heatmap(nv.qk, k_labels, None, title="q ∘ k (elementwise)", x_title="head dimension", y_title="key"),
                 f"{stem}-H{head}-qk{query}", nv.qk, k_labels, kd)
        cols7 = st.columns(2)
        with cols7[0]:
            st.plotly_chart(bars(nv.dot, k_labels, title="q · k", y_title="q·k", colour=head_colour(head)),
                            key="att-fig-dot")
        with cols7[1]:
            st.plotly_chart(bars(nv.weights, k_labels, title=f"softmax(q·k / √{steps.d_k} / {temperature:g})",
                                 y_title="weight", colour=head_colour(head)), key="att-fig-softmax")
        table = np.stack([nv.dot, nv.scaled, nv.weights], axis=1)
        st.download_button("CSV", functools.partial(am.matrix_csv, table, k_labels, ["q.k", "scaled", "softmax"]),
                           file_name=safe_filename(f"attention-{stem}-H{head}-neuron{query}.csv"), mime="text/csv",
                           key="att-csv-neuron", on_click="ignore", icon=":material/download:")

if tab_avg.open:
    with tab_avg:
        avg = am.hide_tokens(am.head_average(layers[layer]), rows, cols)
        show(heatmap(avg, shown_q, shown_k, title=f"Layer {layer}: mean over {cfg.n_heads} heads", x_title="key",
                     y_title="query", weights=True), f"{stem}-mean", avg, shown_q, shown_k)
        full = am.rollout([am.head_average(a) for a in got.self_attention[: layer + 1]])
        roll = am.hide_tokens(full, rows, rows)
        show(heatmap(roll, shown_q, [q_labels[i] for i in rows], title=f"Rollout of self-attention, layers 0..{layer}",
                     x_title="input token", y_title="position", weights=True),
             f"{stem}-rollout", roll, shown_q, [q_labels[i] for i in rows])
        st.caption("Rollout is computed over all tokens, then special tokens are hidden and rows renormalised.")
        if got.cross_attention is not None:
            st.info("Rollout here follows self-attention only: it chains token-to-token maps through the layers. "
                    f"{info.name}'s cross-attention maps its tokens to the context (e.g. image cells), which do not "
                    "chain from layer to layer, so the cross-attention is in the head average above (choose "
                    "Attention: cross) and the other views, not in the rollout.", icon=":material/info:")
