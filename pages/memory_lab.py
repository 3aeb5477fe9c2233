"""Memory lab: vanilla RNN vs LSTM vs Transformer on long-range recall and parity, a fair race, and BPTT."""

from __future__ import annotations

import streamlit as st

from pages._memory_figures import (
    NAMES,
    accuracy_figure,
    clipping_figures,
    grad_norm_figure,
    loss_curves_figure,
    race_note,
)
from pages._shared import adopt, busy, checkpoint_problem, how_it_works, show_job, start_job
from seqcore.errors import SeqcoreError
from seqcore.tasks import memory_lab as lab

JOB, RUNS, VIEW = "memory-lab-job", "memory-lab-runs", "memory-lab-view"
TASK_NAMES = {"recall": "Recall (find a key's value)", "parity": "Parity (of a stream of bits)"}


def start_race(cfg: lab.Config):
    """The race of `cfg` as a background job (its results become a run of this session when it finishes)."""
    return start_job(JOB, lambda on_progress, stop: lab.train(cfg, on_progress=on_progress, stop=stop)[0].results,
                     name="memory-lab")


def load_shipped() -> dict:
    """The shipped races {kind: results} (read once per file version by the task), or {} after saying why not."""
    try:
        shipped = lab.shipped_results()
    except SeqcoreError as e:
        checkpoint_problem(f"Cannot show the shipped races: {e}. Retrain runs a short one-seed race with the page's "
                           "default settings in your session (`seqcore train memory` rebuilds the shipped file); "
                           "Train a race below works too.", key="memory-lab-retrain", name="the default race",
                           busy=busy(JOB), where="under Train a race, live",
                           retrain=lambda: start_race(lab.page_config(clip=False)))
        return {}
    if shipped is None:
        st.info("No shipped results yet: `seqcore train memory` makes them. You can still train below.")
    return shipped or {}


def describe(res: dict) -> str:
    stopped = ", stopped early" if res.get("stopped") else ""
    seeds = res["seeds"]
    return (f"{TASK_NAMES[res.get('kind', 'recall')]}, seed{'s' if len(seeds) > 1 else ''} "
            f"{', '.join(map(str, seeds))}, on {res['device']}, {res['created'][:16].replace('T', ' ')} UTC, "
            f"distances up to {max(res['distances'])}{stopped}")


def train_panel() -> None:
    """Widgets for a live run; the run itself is a background Job drawn by show_job."""
    st.subheader("Train a race, live")
    st.caption("One seed, kept short: this is a shared server. The shipped races above are three seeds of both "
               "budgets (`seqcore train memory`).")
    c1, c2 = st.columns(2)
    kind = c1.selectbox("Task", list(lab.KINDS), format_func=TASK_NAMES.get, key="memory-lab-task")
    budgets = c2.multiselect("Races", list(lab.BUDGETS), default=["steps"], key="memory-lab-budgets",
                             format_func=lambda b: lab.BUDGETS[b].capitalize(), help="Both run one after the other")
    c1, c2 = st.columns(2)
    steps = c1.slider("Steps per model (equal steps)", 100, 2000, 500, step=100, key="memory-lab-steps",
                      help="Equal-steps race: every model takes this many optimiser steps, with its own learning rate")
    seconds = c2.slider("Seconds per model (equal wall time)", 5, 60, 20, key="memory-lab-seconds",
                        help="Equal-wall-time race: every model trains this long; faster models take more steps")
    c1, c2 = st.columns(2)
    longest = c1.slider("Longest distance", 5, lab.MAX_DISTANCE, 50, step=5, key="memory-lab-distance",
                        help="Training sequences have distances 0..this (distractors between cue and query, or bits)")
    seed = c2.number_input("Seed", 0, 10_000, 0, key="memory-lab-seed")
    archs = st.multiselect("Models", list(lab.ARCHS), default=list(lab.ARCHS), format_func=NAMES.get,
                           key="memory-lab-models")
    extra = st.text_input("Distances to test (optional)", key="memory-lab-eval",
                          placeholder=f"default: {', '.join(map(str, lab.default_distances(longest)))}",
                          help="Comma-separated whole numbers, each at most the longest distance")
    clip = st.checkbox(f"Also rerun the clipping on/off experiment ({lab.PAGE_CLIP_SECONDS:g} s)", value=False,
                       key="memory-lab-clip")
    if st.button("Train", key="memory-lab-train", type="primary", icon=":material/play_arrow:", disabled=busy(JOB)):
        try:
            cfg = lab.page_config(longest, budgets, steps, seconds, seed, archs, extra, clip, kind=kind)
        except SeqcoreError as e:
            st.error(f"{e}. Change the inputs above and press Train again.")
        else:
            start_race(cfg)
    if busy(JOB):  # the 1 s fragment only while a run is live, not on every idle tab
        now_training()
    show_job(JOB, kept="the models trained so far are scored and shown as a new run; earlier runs are unchanged")


@st.fragment(run_every="1s")
def now_training() -> None:
    job = st.session_state.get(JOB)
    if job is not None and job.running:
        last = next((p for p in reversed(job.snapshot()) if hasattr(p, "model")), None)
        race = f" ({lab.BUDGETS[last.budget]}, seed {last.seed})" if last and last.budget else ""
        st.caption(f"Now training: {last.model}{race}" if last else "Preparing data and timing each model...")


def keep_finished_run() -> None:
    """Move a finished job's results into the session's list of runs, once (nothing is lost on rerun).

    Runs before the results radio is drawn, so it may still set which run the radio shows.
    """
    result = adopt(JOB)
    if result is not None:
        st.session_state.setdefault(RUNS, []).append(result)
        st.session_state[VIEW] = len(st.session_state[RUNS])  # show the new run


def show_results(res: dict, shipped: dict) -> None:
    if not res["runs"]:
        st.warning("This run was stopped before any model finished; there is nothing to plot.")
        return
    st.caption(f"Same as `{res['command']}` · {describe(res)} · chance level {res['chance']:.1%} · held-out "
               "sequences use another seed · each model trains with its own learning rate and warm-up (the sweep's "
               "picks)")
    same = shipped.get(res.get("kind", "recall"))
    compare = None
    if same is not None and res is not same:
        compare = same if st.toggle("Show the shipped race dotted", key="memory-lab-compare") else None
    columns = st.columns(len(res["views"]))
    for col, budget in zip(columns, res["views"], strict=True):
        key = "memory-lab-accuracy" if budget == "steps" else "memory-lab-accuracy-time"
        col.plotly_chart(accuracy_figure(res, budget, compare), key=key)
        col.caption(race_note(res, budget))
    if len(res["views"]) == 2:
        st.markdown("**Equal steps** asks what each model can learn from the same number of updates (the lecture's "
                    "claim). **Equal wall time** asks what that costs on this machine: a model that is cheaper per "
                    "step gets more of them; time is this process's CPU time on one thread (an idle machine's wall "
                    "time), so other programs on a shared server slow every model's clock, not its budget. Lines are "
                    "the mean over the seeds; the shaded band is their range.")
    rows = lab.summary(res)
    for row in rows:
        row["model"] = NAMES[row["model"]]
        below = row["below 90% at"]  # one type per column: Arrow cannot hold ints and text together
        row["below 90% at"] = f"{below}" if below is not None else "never (in range)"
    st.dataframe(rows, hide_index=True, key="memory-lab-table")
    first = res["runs"][0]
    left, right = st.columns(2)
    left.plotly_chart(grad_norm_figure(res), key="memory-lab-gradnorm")
    right.plotly_chart(loss_curves_figure(first["models"]), key="memory-lab-loss")
    st.caption(f"Both from the first run ({lab.BUDGETS[first['budget']]}, seed {first['seed']}). Left: the norm of "
               "the answer's loss gradient with respect to each input embedding, averaged over 64 held-out sequences "
               "at the longest distance; dotted = the same model before training. Gaps are gradients that "
               "underflowed to exactly 0. Right: validation loss against training time.")
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


def _label(view: str | int) -> str:
    return f"Shipped: {view}" if view in lab.KINDS else f"Your run {view}"


st.title("Memory lab")
st.write("How far back can a model remember? **Recall**: a key and its value, then *distance* random distractor "
         "tokens (values among them), then `?` and the key: answer the value. **Parity**: a stream of *distance* "
         "random bits, then `?`: is the number of 1s odd? A vanilla RNN, an LSTM and a small Transformer race "
         "fairly: each with its own tuned learning rate, for the same number of steps and, separately, for the same "
         "wall time. The two tasks rank the models differently.")
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

shipped = load_shipped()
keep_finished_run()
runs = st.session_state.get(RUNS, [])
choices = [k for k in lab.KINDS if k in shipped] + list(range(1, len(runs) + 1))  # shipped task, or run i
if choices:
    if st.session_state.get(VIEW) not in choices:
        st.session_state[VIEW] = choices[-1] if runs else choices[0]
    view = st.radio("Results", choices, key=VIEW, horizontal=True, format_func=_label)
    current = shipped[view] if view in lab.KINDS else runs[view - 1]
    show_results(current, shipped)
train_panel()
