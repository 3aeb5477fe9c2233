"""The page kit: UI pieces every page uses, so each page is widgets -> task protocol -> charts.

- jobs: start_job, busy, adopt (a finished job's result, once), show_job (live progress, Stop, loss chart)
- checkpoints: load_or_banner (a broken shipped checkpoint -> st.error + "Retrain NAME"), checkpoint_problem,
  unreadable_shipped, card_table (the held-out figures of model cards)
- teaching: how_it_works (the lecture expander); files: safe_filename, upload_too_big
Widget keys are `<page>-<name>`. Not a page: app.py lists pages explicitly, so this file never shows in the
navigation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import plotly.graph_objects as go
import streamlit as st

from seqcore.errors import SeqcoreError
from seqcore.jobs import Job


def how_it_works(equations: list[str], text: str, *, limits: str) -> None:
    """The lecture expander: equations (LaTeX), the problem shape and the model's limits."""
    with st.expander("How it works"):
        for eq in equations:
            st.latex(eq)
        st.markdown(text)
        st.caption(f"Limits: {limits}")


def safe_filename(name: str, default: str = "download") -> str:
    """A download name with no path parts or odd characters."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("._")
    return name[:80] or default


def upload_too_big(upload, limit_mb: int, then: str = "") -> bool:
    """True, after an st.error, when an upload is over its widget's limit.

    The browser enforces a widget's max_upload_size, but a client that skips it reaches the server's
    larger server.maxUploadSize, so each page checks again before reading the bytes.
    """
    if upload.size <= limit_mb * 1024 * 1024:
        return False
    st.error(f"{upload.name} is {upload.size / 2**20:.1f} MB; this box takes files up to {limit_mb} MB: upload a "
             f"smaller file. {then}".strip())
    return True


def start_job(key: str, fn: Callable, *, name: str) -> Job | None:
    """Start a background job under st.session_state[key]; shows st.error when the server is full."""
    try:
        job = Job(fn, name=name)
    except SeqcoreError as e:
        st.error(str(e))
        return None
    st.session_state[key] = job
    return job


def busy(key: str) -> bool:
    """True while the job under st.session_state[key] runs (Train buttons are disabled then)."""
    job = st.session_state.get(key)
    return job is not None and job.running


def adopt(key: str):
    """The result of the finished job under st.session_state[key] the first time a rerun sees it, else None.

    A page puts the result where it keeps its models (session state, the user registry) exactly once,
    however many reruns follow; the job is remembered under `<key>-adopted`.
    """
    job = st.session_state.get(key)
    result = trained(job)
    if result is None or st.session_state.get(f"{key}-adopted") is job:
        return None
    st.session_state[f"{key}-adopted"] = job
    return result


def card_table(cards: list[dict], columns: dict[str, str], *, key: str) -> None:
    """A table of model cards: one row per card, columns label -> dotted path in the card ("metrics.bleu").

    Missing fields show as empty cells, so a card from an older run still has its row.
    """
    def get(card: dict, path: str):
        for part in path.split("."):
            card = card.get(part) if isinstance(card, dict) else None
        return card

    rows = [{label: get(card, path) for label, path in columns.items()} for card in cards]
    st.dataframe(rows, hide_index=True, key=key)


def load_or_banner(load: Callable, name: str, *, key: str, retrain: Callable[[], Job | None] | None = None,
                   busy_now: bool = False, what: str = "", where: str = "under the training panel"):
    """load(name) -> its result, or None after the broken-checkpoint banner (st.error + "Retrain NAME").

    `load` is a task's protocol load (cache it in the page with st.cache_resource keyed on the file version);
    SeqcoreError (missing, corrupt or mismatched files) becomes the banner instead of a traceback.
    """
    try:
        return load(name)
    except SeqcoreError as e:
        why = unreadable_shipped([name]).get(name) or str(e)
        checkpoint_problem(f"{what or 'The model'} {name} cannot be used: {why}. Press Retrain to train it again "
                           "in your session with the default settings.", key=key, retrain=retrain, name=name,
                           busy=busy_now, where=where)
        return None


def trained(job: Job | None):
    """A finished job's result if it is worth keeping, else None (the previous model stays in use).

    Not worth keeping: still running, failed, or stopped before its first training step. fit() hands
    back the model it was given in that last case, i.e. untrained random weights, and adopting them
    would silently replace a model that works.
    """
    if job is None or job.running or job.error or job.result is None:
        return None
    if job.stop.is_set() and not _history(job):
        return None
    return job.result


def checkpoint_problem(message: str, *, key: str, retrain: Callable[[], Job | None] | None = None,
                       name: str = "", busy: bool = False, where: str = "under the training panel") -> None:
    """st.error for a shipped checkpoint that cannot be used, and a one-click "Retrain NAME".

    retrain() starts the page's own training job with its default settings and returns the Job (None when
    the server is full; start_job has said so). The new model goes to the session, or to the user registry
    on pages that read it, never over the shipped file: a web page must not change what every user gets.
    """
    st.error(message)
    if retrain is None:
        return
    if st.button(f"Retrain {name}", key=key, icon=":material/model_training:", disabled=busy,
                 help="Train this model again with the page's default settings; the shipped file is left as it is"
                 ) and retrain() is not None:
        st.info(f"Retraining {name} with the default settings: progress shows {where}.")


def unreadable_shipped(names) -> dict[str, str]:
    """name -> why, for shipped checkpoints whose model card is corrupt or whose weights file is missing.

    The registry skips such files (it cannot know their task), so without this a page would lose the
    model silently; a checkpoint that was never shipped (neither file present) is not a problem.
    """
    from seqcore.checkpoints import read_card, shipped_dir
    from seqcore.errors import CheckpointError

    out = {}
    for name in names:
        stem = shipped_dir() / name
        if not stem.with_suffix(".json").exists():
            if stem.with_suffix(".safetensors").exists():
                out[name] = f"its model card {name}.json is missing"
            continue
        try:
            read_card(stem)
        except CheckpointError as e:
            out[name] = str(e)
            continue
        if not stem.with_suffix(".safetensors").exists():
            out[name] = f"its weights file {name}.safetensors is missing"
    return out


def _history(job: Job) -> list:
    return [p for p in job.snapshot() if hasattr(p, "train_loss")]


def loss_figure(history: list) -> go.Figure:
    """Train and validation loss against step, from seqcore.train.Progress records."""
    fig = go.Figure()
    steps = [p.step for p in history]
    fig.add_scatter(x=steps, y=[p.train_loss for p in history], name="train", mode="lines+markers")
    val = [(p.step, p.val_loss) for p in history if p.val_loss is not None]
    if val:
        fig.add_scatter(x=[s for s, _ in val], y=[v for _, v in val], name="validation", mode="lines+markers")
    fig.update_layout(height=260, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="step",
                      yaxis_title="loss", title="Training loss")
    return fig


KEPT = "the weights with the best validation loss so far are kept"


def show_job(key: str, *, kept: str = KEPT) -> None:
    """Progress of the job in st.session_state[key]: live while it runs, a summary after.

    kept: what a run stopped part-way leaves behind, for the message after Stop.
    """
    job: Job | None = st.session_state.get(key)
    if job is None:
        return
    if job.running:
        _live_panel(key, kept)
    else:
        _draw_job(key, job, kept)


@st.fragment(run_every="500ms")
def _live_panel(key: str, kept: str) -> None:
    job: Job = st.session_state[key]
    if not job.running:
        st.rerun()  # the whole page, so it picks up job.result
    _draw_job(key, job, kept)


def _draw_job(key: str, job: Job, kept: str = KEPT) -> None:
    history = _history(job)
    if job.running:
        last = history[-1] if history else None
        frac = min(1.0, last.step / max(1, last.total_steps)) if last else 0.0
        label = f"step {last.step}/{last.total_steps}, {last.elapsed:.0f}s" if last else "starting..."
        if who := getattr(last, "model", None) or getattr(last, "label", None):
            label = f"{who}, {label}"
        st.progress(frac, text=f"Training: {label}")
        if st.button("Stop", key=f"{key}-stop", icon=":material/stop:"):
            job.stop.set()
    if job.error:
        st.error(f"Training failed: {job.error}. The previous model is still in use.")
    elif not job.running and job.stop.is_set():
        if trained(job) is None:
            st.warning("Training was stopped before its first step, so nothing was trained: the previous model "
                       "is still in use. Press Train to start again.")
        else:
            st.info(f"Training was stopped at step {history[-1].step} of {history[-1].total_steps}: {kept}.")
    if history:
        st.plotly_chart(loss_figure(history), key=f"{key}-loss")
