"""Memory lab: vanilla RNN vs LSTM vs Transformer on long-range recall and parity, a fair race, and BPTT."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from pages import _shared as kit
from pages._memory_figures import (
    NAMES,
    accuracy_figure,
    grad_norm_figure,
    lecture,
    loss_curves_figure,
    race_note,
    show_clipping,
)
from pages._shared import adopt, busy, checkpoint_problem, show_job, start_job
from seqcore.errors import SeqcoreError
from seqcore.tasks import memory_lab as lab

JOB, RUNS, VIEW = "memory-lab-job", "memory-lab-runs", "memory-lab-view"
MODELS = "memory-lab-models-kept"  # run number -> (its MemoryLab holding the Transformer only, or None; card)
TASK_NAMES = {"recall": "Recall (find a key's value)", "parity": "Parity (of a stream of bits)"}


def start_race(cfg: lab.Config):
    """The race of `cfg` as a background job: (MemoryLab, card); its results become a run of this session and its
    Transformer can be kept when it finishes."""
    return start_job(JOB, lambda on_progress, stop: lab.train(cfg, on_progress=on_progress, stop=stop),
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
    budgets = c2.multiselect("Races", list(lab.BUDGETS), key="memory-lab-budgets",
                             format_func=lambda b: lab.BUDGETS[b].capitalize(), help="Both run one after the other")
    c1, c2 = st.columns(2)
    steps = c1.slider("Steps per model (equal steps)", 100, 2000, step=100, key="memory-lab-steps",
                      help="Equal-steps race: every model takes this many optimiser steps, with its own learning rate")
    seconds = c2.slider("Seconds per model (equal wall time)", 5, 60, key="memory-lab-seconds",
                        help="Equal-wall-time race: every model trains this long; faster models take more steps")
    c1, c2 = st.columns(2)
    longest = c1.slider("Longest distance", 5, lab.MAX_DISTANCE, step=5, key="memory-lab-distance",
                        help="Training sequences have distances 0..this (distractors between cue and query, or bits)")
    seed = c2.number_input("Seed", 0, 10_000, key="memory-lab-seed")
    archs = st.multiselect("Models", list(lab.ARCHS), format_func=NAMES.get,
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
            st.error(f"{kit.inert(str(e))}. Change the inputs above and press Train again.")  # e quotes the input
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
        trained, card = result
        runs = st.session_state.setdefault(RUNS, [])
        runs.append(trained.results)
        transformer = {k: m for k, m in trained.models.items() if k == "transformer"}  # what Keep saves, no more
        st.session_state.setdefault(MODELS, {})[len(runs)] = (replace(trained, models=transformer)
                                                               if transformer else None, card)
        st.session_state[VIEW] = len(runs)  # show the new run


def keep_panel(run: int, res: dict) -> None:
    """The kit's "Keep this model" for the Transformer of a run of this session, or why there is none to keep."""
    trained, card = st.session_state.get(MODELS, {}).get(run, (None, None))
    if trained is None:
        archs = res.get("config", {}).get("archs", ())
        why = ("it trained no Transformer" if "transformer" not in archs else "this session no longer holds its "
               "weights" if "transformer" in lab.first_run(res) else "it was stopped before the Transformer trained")
        st.caption(f"Nothing to keep from this run: {why}, and the Transformer is the model that can be kept (it "
                   "opens in the attention explorer). Include Transformer under Models and press Train to make one.")
        return
    st.caption(f"This run's Transformer ({lab.BUDGETS[res['runs'][0]['budget']]}, seed {res['seeds'][0]}; mean "
               f"held-out accuracy {card['metrics']['mean_accuracy']:.1%} over distances "
               f"{', '.join(map(str, res['distances']))}) can be kept on this server, to open in the attention "
               f"explorer{'; the recurrent models are not kept' if len(lab.first_run(res)) > 1 else ''}.")
    kit.keep_model(f"memory-lab-keep-{run}", lab.save, trained, card, f"memory-{res['kind']}-transformer",
                   use="Choose *{name}* under Model in the attention explorer to see where its heads look")


def show_results(res: dict, shipped: dict, run: int | None = None) -> None:
    """A race's results: shipped (run None) or this session's run `run` (with Keep for its Transformer)."""
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
    if run is not None:
        keep_panel(run, res)
    first = res["runs"][0]
    left, right = st.columns(2)
    left.plotly_chart(grad_norm_figure(res), key="memory-lab-gradnorm")
    right.plotly_chart(loss_curves_figure(first["models"]), key="memory-lab-loss")
    st.caption(f"Both from the first run ({lab.BUDGETS[first['budget']]}, seed {first['seed']}). Left: the norm of "
               "the answer's loss gradient with respect to each input embedding, averaged over 64 held-out sequences "
               "at the longest distance; dotted = the same model before training. Gaps are gradients that "
               "underflowed to exactly 0. Right: validation loss against training time.")
    show_clipping(res)


def _label(view: str | int) -> str:
    return f"Shipped: {view}" if view in lab.KINDS else f"Your run {view}"


def _shipped_only(view: str | int) -> str:
    """A link shows a shipped race; a run of this session is not in another's, so the link leaves it out."""
    if view not in lab.KINDS:
        raise ValueError("a run of this session")
    return view


def _distances(text: str) -> str:
    """A link's distances text, kept as typed when the task reads it up to the link's longest distance (restored
    just before it); Train checks the box again against the slider."""
    if text.strip():
        lab.parse_distances(text, max_distance=st.session_state.get("memory-lab-distance", lab.MAX_DISTANCE))
    return text


def _whole(text: str) -> str:
    if len(text) > 100:  # a cut list could read as other distances: such a box stays out of the link
        raise ValueError("too long for a link")
    return text


st.title("Memory lab")
st.write("How far back can a model remember? **Recall**: a key and its value, then *distance* random distractor "
         "tokens (values among them), then `?` and the key: answer the value. **Parity**: a stream of *distance* "
         "random bits, then `?`: is the number of 1s odd? A vanilla RNN, an LSTM and a small Transformer race "
         "fairly: each with its own tuned learning rate, for the same number of steps and, separately, for the same "
         "wall time. The two tasks rank the models differently.")
links = kit.PageLinks("memory-lab", [  # a link carries the race's settings and which shipped race is shown
    kit.choice("task", "memory-lab-task", lab.KINDS),
    kit.choices("races", "memory-lab-budgets", lab.BUDGETS, ["steps"]),
    kit.number("steps", "memory-lab-steps", 100, 2000, 500, step=100),
    kit.number("seconds", "memory-lab-seconds", 5, 60, 20),
    kit.number("longest", "memory-lab-distance", 5, lab.MAX_DISTANCE, 50, step=5),
    kit.number("seed", "memory-lab-seed", 0, 10_000, 0),
    kit.choices("models", "memory-lab-models", lab.ARCHS, lab.ARCHS),
    kit.Link("distances", "memory-lab-eval", "", _distances, _whole),
    kit.Link("view", VIEW, lab.KINDS[0], kit.choice("view", VIEW, lab.KINDS).parse, _shipped_only)],
    path="memory_lab")
lecture()

shipped = load_shipped()
keep_finished_run()
runs = st.session_state.get(RUNS, [])
choices = [k for k in lab.KINDS if k in shipped] + list(range(1, len(runs) + 1))  # shipped task, or run i
if choices:
    if st.session_state.get(VIEW) not in choices:
        st.session_state[VIEW] = choices[-1] if runs else choices[0]
    view = st.radio("Results", choices, key=VIEW, horizontal=True, format_func=_label)
    current = shipped[view] if view in lab.KINDS else runs[view - 1]
    show_results(current, shipped, None if view in lab.KINDS else view)
train_panel()
links.publish()
