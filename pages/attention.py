"""Attention explorer: step through softmax(QK^T/sqrt(d_k))V inside any Transformer checkpoint."""

from __future__ import annotations

import dataclasses

import streamlit as st
import torch

from pages import _shared as kit
from pages._attention_figures import (
    clicked_cell,
    draw_neuron_view,
    draw_step_through,
    head_view_height,
    head_view_html,
    heatmap,
    model_view,
    show,
)
from pages._shared import adopt, busy, checkpoint_problem, how_it_works, show_job, start_job, unreadable_shipped
from seqcore.checkpoints import file_version, keep
from seqcore.errors import CheckpointError, SeqcoreError
from seqcore.tasks import attention
from seqcore.tasks import attention_maths as am
from seqcore.tasks.probe import probe_for, transformer_checkpoints

MY_TEXT, EXAMPLE_INPUT = "My text", "The model's own example"
INPUTS = {MY_TEXT: "text", EXAMPLE_INPUT: "example"}  # in links
VIEWS = {"Step-through": "step", "Head view": "head", "Model view": "model", "Neuron view": "neuron",
         "Average & rollout": "average"}
OWN = attention.DEFAULT_NAME
RETRAIN_JOB = "attention-retrain-job"


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


def start_retrain():
    """Retrain the explorer's own model (the task's page_config) into the user registry, where the explorer
    finds it; the shipped file is left alone."""

    def run(on_progress, stop):
        model, card = attention.train(attention.page_config(), on_progress=on_progress, stop=stop)
        if not card["training"]["steps"]:  # stopped before its first step: nothing worth saving
            return None
        card["command"] = "retrained on the attention page"
        return {"removed": [m.name for m in keep(attention.save, model, card, OWN)[1]]}  # within the quota

    return start_job(RETRAIN_JOB, run, name="attention")


def problem(name: str, task: str, why: str) -> None:
    """The broken-checkpoint banner: the explorer's own model gets a Retrain button, another task's points there."""
    own = name == OWN
    minutes = attention.page_config().seconds / 60
    checkpoint_problem(f"The checkpoint {name} cannot be used: {why}. "
                       + (f"Press Retrain to train the explorer's model again (up to {minutes:g} minutes; the "
                          "shipped file is left as it is), or pick another model."
                          if own else f"Retrain it on the {task} page, or pick another model above."),
                       key="attention-retrain", name=name, busy=busy(RETRAIN_JOB),
                       retrain=start_retrain if own else None, where="below")
    if own:
        kit.quota_warning(doing="Saving the retrained model")
        show_job(RETRAIN_JOB)


def enlarge_clicked() -> None:
    """A click on a small map of the model view selects its hidden point: enlarge that layer and head."""
    event = st.session_state.get("attention-fig-modelview")
    cell = clicked_cell(event["selection"]["points"] if event else None)
    if cell is not None:
        st.session_state["attention-mv-cell"] = cell


st.title("Attention explorer")
links = kit.PageLinks("attention")  # a link carries the model, the input, layer, head and view
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
if (_why := unreadable_shipped([OWN]).get(OWN)) and OWN not in {c.name for c in checkpoints}:
    problem(OWN, attention.TASK, _why)  # the registry skips a corrupt card: the own model would vanish silently
labels = [f"{c.name} ({c.task}, {c.source})" for c in checkpoints]
default = next((i for i, c in enumerate(checkpoints) if c.name == OWN), 0)
if (retrained := adopt(RETRAIN_JOB)) is not None:
    st.session_state["attention-model"] = default  # show the retrained model once (user checkpoints come first)
    kit.removed_note(retrained["removed"])
links.restore([kit.choice("model", "attention-model", range(len(checkpoints)), default,
                          label=lambda i: checkpoints[i].name),  # a name: the first such (user ones come first)
               kit.choice("input", "attention-source", INPUTS, label=INPUTS.get),
               kit.text("text", "attention-text", attention.EXAMPLE)])
choice = st.selectbox("Model", range(len(checkpoints)), format_func=labels.__getitem__, key="attention-model",
                      help="Every Transformer in the checkpoint registry; other pages add theirs")
info = checkpoints[choice]
source = st.radio("Input", [MY_TEXT, EXAMPLE_INPUT], horizontal=True, key="attention-source")
text = None
if source == MY_TEXT:
    text = st.text_input("Text", key="attention-text",
                         help=f"Any Unicode; the explorer's own model reads up to {attention.MAX_CHARS} characters")
    if not text.strip():
        st.error(f"The text is empty: type at least one character, or choose '{EXAMPLE_INPUT}'.")
        st.stop()
try:
    probe = cached_probe(info.source, info.name, file_version(info.stem), text)
    got = am.run_model(probe)
except CheckpointError as e:
    problem(info.name, info.task, str(e))
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
links.restore([kit.number("layer", "attention-layer", 0, cfg.n_layers - 1, 0),
               kit.number("head", "attention-head", 0, cfg.n_heads - 1, 0),
               kit.choice("view", "attention-view", VIEWS, label=VIEWS.get)])
c1, c2, c3, c4, c5 = st.columns([1, 1, 1, 1.7, 1.5])
layer = c1.selectbox("Layer", range(cfg.n_layers), key="attention-layer")
head = c2.selectbox("Head", range(cfg.n_heads), key="attention-head")
kinds = ["self", "cross"] if got.cross_attention is not None else ["self"]
kind = c3.selectbox("Attention", kinds, key="attention-kind",
                    help="cross: queries from the text, keys from the context")
temperature = c4.slider("Softmax temperature", 0.1, 5.0, 1.0, 0.1, key="attention-temp",
                        help="Divides the scaled scores; 1 is what the model uses, lower is sharper")
hide = c5.toggle("Hide special tokens", key="attention-hide",
                 help="Drop <bos>/padding rows and columns; rows renormalised")
k_labels = am.token_labels(am.key_tokens(probe, kind))
layers = got.self_attention if kind == "self" else got.cross_attention
rows = am.keep_indices(probe.special, len(q_labels), hide)
cols = rows if kind == "self" else list(range(len(k_labels)))
shown_q, shown_k = [q_labels[i] for i in rows], [k_labels[j] for j in cols]
stem = f"{info.name}-L{layer}"

# Only the open tab runs and draws (on_change="rerun"): sending every view's figures on each rerun made a
# new input take ~2 s in the browser (bench/pages.py).
tab_step, tab_head, tab_model, tab_neuron, tab_avg = st.tabs(list(VIEWS), key="attention-view", on_change="rerun")
links.publish()

with torch.inference_mode():
    steps = am.step_through(probe, layer, head, temperature=temperature, kind=kind)
    check = am.verify(probe, layer, kind)

if tab_step.open:
    with tab_step:
        draw_step_through(probe, steps, check, q_labels=q_labels, k_labels=k_labels, stem=stem)

if tab_head.open:
    with tab_head:
        att = am.hide_tokens(layers[layer], rows, cols)
        lines = am.head_view_lines(att, list(range(cfg.n_heads)))
        with st.container(key="attention-headview"):
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
        if st.session_state.get("attention-mv-cell") not in cells:
            st.session_state["attention-mv-cell"] = (layer, head)
        cell = st.session_state["attention-mv-cell"]
        st.plotly_chart(model_view(grid, title=f"All layers and heads ({kind}-attention): click a map to enlarge it",
                                   selected=cell),
                        key="attention-fig-modelview", on_select=enlarge_clicked, selection_mode="points")
        cell = st.selectbox("Enlarged", cells, key="attention-mv-cell",
                            format_func=lambda c: f"layer {c[0]}, head {c[1]}")
        show(heatmap(grid[cell[0]][cell[1]], shown_q, shown_k, title=f"layer {cell[0]}, head {cell[1]}",
                     x_title="key", y_title="query", weights=True),
             f"{info.name}-L{cell[0]}-H{cell[1]}-grid", grid[cell[0]][cell[1]], shown_q, shown_k)

if tab_neuron.open:
    with tab_neuron:
        query = st.selectbox("Query token", range(len(q_labels)), index=len(q_labels) - 1,
                             key="attention-nv-query", format_func=q_labels.__getitem__)
        st.markdown(f"Layer {layer}, head {head}: how query **{q_labels[query]}** scores every key. "
                    "Each row of q ∘ k sums to q·k.")
        draw_neuron_view(am.neuron_view(steps, query), query=query, head=head, d_k=steps.d_k,
                         temperature=temperature, q_labels=q_labels, k_labels=k_labels, stem=stem)

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
