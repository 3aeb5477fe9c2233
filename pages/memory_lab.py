"""Memory lab: vanilla RNN vs LSTM vs Transformer on long-range recall, and the gradients of BPTT."""

from __future__ import annotations

import streamlit as st

from pages._memory_figures import NAMES, accuracy_figure, clipping_figures, grad_norm_figure, loss_curves_figure
from pages._shared import adopt, busy, how_it_works, show_job, start_job
from seqcore.errors import SeqcoreError
from seqcore.tasks import memory_lab as lab

JOB, RUNS = "memory-lab-job", "memory-lab-runs"


def load_shipped() -> dict | None:
    """The shipped default run (read once per file version by the task), or None after saying why not."""
    try:
        shipped = lab.shipped_results()
    except SeqcoreError as e:
        st.error(f"Cannot show the shipped default run: {e}. Training below still works.")
        return None
    if shipped is None:
        st.info(f"No shipped results yet: `seqcore memory-lab --out checkpoints/{lab.RESULTS}` makes them. "
                "You can still train below.")
    return shipped


def describe(res: dict) -> str:
    stopped = ", stopped early" if res.get("stopped") else ""
    return (f"{res['seconds_per_model']:g} s per model on {res['device']}, {res['created'][:16].replace('T', ' ')} "
            f"UTC, distances up to {max(res['distances'])}{stopped}")


def train_panel() -> None:
    """Widgets for a live run; the run itself is a background Job drawn by show_job."""
    st.subheader("Train more, live")
    c1, c2, c3 = st.columns(3)
    longest = c1.slider("Longest distance", 5, lab.MAX_DISTANCE, 50, step=5, key="memory-lab-distance",
                        help="Training sequences hold 0..this many distractors between cue and query")
    seconds = c2.slider("Seconds per model", 5, 60, 20, key="memory-lab-seconds",
                        help="The equal wall-time budget each model trains for")
    seed = c3.number_input("Seed", 0, 10_000, 0, key="memory-lab-seed")
    archs = st.multiselect("Models", list(lab.ARCHS), default=list(lab.ARCHS), format_func=NAMES.get,
                           key="memory-lab-models")
    extra = st.text_input("Distances to test (optional)", key="memory-lab-eval",
                          placeholder=f"default: {', '.join(map(str, lab.default_distances(longest)))}",
                          help="Comma-separated whole numbers, each at most the longest distance")
    clip = st.checkbox(f"Also rerun the clipping on/off experiment ({lab.PAGE_CLIP_SECONDS:g} s)", value=True,
                       key="memory-lab-clip")
    if st.button("Train", key="memory-lab-train", type="primary", icon=":material/play_arrow:", disabled=busy(JOB)):
        try:
            cfg = lab.page_config(longest, seconds, seed, archs, extra, clip)
        except SeqcoreError as e:
            st.error(f"{e}. Change the inputs above and press Train again.")
        else:
            start_job(JOB, lambda on_progress, stop: lab.train(cfg, on_progress=on_progress, stop=stop)[0].results,
                      name="memory-lab")
    if busy(JOB):  # the 1 s fragment only while a run is live, not on every idle tab
        now_training()
    show_job(JOB, kept="the models trained so far are scored and shown as a new run; earlier runs are unchanged")


@st.fragment(run_every="1s")
def now_training() -> None:
    job = st.session_state.get(JOB)
    if job is not None and job.running:
        last = next((p for p in reversed(job.snapshot()) if hasattr(p, "model")), None)
        st.caption(f"Now training: {last.model}" if last else "Preparing data and timing each model...")


def keep_finished_run() -> None:
    """Move a finished job's results into the session's list of runs, once (nothing is lost on rerun).

    Runs before the results radio is drawn, so it may still set which run the radio shows.
    """
    result = adopt(JOB)
    if result is not None:
        st.session_state.setdefault(RUNS, []).append(result)
        st.session_state["memory-lab-view"] = len(st.session_state[RUNS])  # show the new run


def show_results(res: dict, shipped: dict | None) -> None:
    if not res["models"]:
        st.warning("This run was stopped before any model finished; there is nothing to plot.")
        return
    st.caption(f"Same as `{res['command']}` · {describe(res)} · chance level {res['chance']:.1%} "
               f"({res['task_config']['n_values']} values) · held-out sequences use another seed")
    compare = None
    if shipped is not None and res is not shipped:
        compare = shipped if st.toggle("Show the shipped default run dotted", key="memory-lab-compare") else None
    st.plotly_chart(accuracy_figure(res, compare), key="memory-lab-accuracy")
    rows = lab.summary(res)
    for row in rows:
        row["model"] = NAMES[row["model"]]
        below = row["below 90% at"]  # one type per column: Arrow cannot hold ints and text together
        row["below 90% at"] = f"{below}" if below is not None else "never (in range)"
    st.dataframe(rows, hide_index=True, key="memory-lab-table")
    left, right = st.columns(2)
    left.plotly_chart(grad_norm_figure(res), key="memory-lab-gradnorm")
    right.plotly_chart(loss_curves_figure(res), key="memory-lab-loss")
    st.caption("Left: the norm of the answer's loss gradient with respect to each input embedding, averaged over "
               "64 held-out sequences at the longest distance; dotted = the same model before training. "
               "Gaps are gradients that underflowed to exactly 0.")
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


st.title("Memory lab")
st.write("How far back can a model recall? Each sequence holds a key and its value, then *distance* random "
         "distractor tokens (values among them, so the model must keep the one that followed the key), then `?` "
         "and the key: the model must answer the value. A vanilla RNN, an LSTM and a small Transformer get the "
         "same training time; the curves show where each one's memory gives out.")
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
    "almost unchanged. Attention gives the query a **direct path** to every earlier token: one softmax step, "
    "whatever the distance.\n\n"
    "**Problem shape:** many-to-one (a sequence in, one value out). **Baseline:** chance, 1 / number of values. "
    "**Hypothesis** (to be measured here, not assumed): at long distances Transformer >= LSTM >> vanilla RNN.",
    limits="a synthetic task with small models and a short, equal time budget on the machine shown; longer "
           "training, bigger models or other learning rates can change the ranking and the distances.",
)

shipped = load_shipped()
keep_finished_run()
runs = st.session_state.get(RUNS, [])
choices = ([0] if shipped is not None else []) + list(range(1, len(runs) + 1))
if choices:
    if st.session_state.get("memory-lab-view") not in choices:
        st.session_state["memory-lab-view"] = choices[-1] if runs else choices[0]
    view = st.radio("Results", choices, key="memory-lab-view", horizontal=True,
                    format_func=lambda i: "Shipped default" if i == 0 else f"Your run {i}")
    current = shipped if view == 0 else runs[view - 1]
    show_results(current, shipped)
train_panel()
