"""The page kit: UI pieces every page uses, so each page is widgets -> task protocol -> charts.

- jobs: start_job, busy, adopt (a finished job's result, once), show_job (live progress, Stop, loss chart)
- checkpoints: load_or_banner (a broken shipped checkpoint -> st.error + "Retrain NAME"), checkpoint_problem,
  unreadable_shipped, card_table (the held-out figures of model cards)
- teaching: how_it_works (the lecture expander); files: safe_filename, upload_too_big
- kept models: keep_model ("Keep this model": the task's save into the server's kept models, within its quota),
  quota_warning (what saving one more would remove, said before), removed_note (what was removed, said after)
- links: PageLinks (a page's inputs in its URL: restored from a link, invalid values said and replaced, written back,
  "Copy link"), declared with choice / choices / number / text
Widget keys are `<page>-<name>`. Not a page: app.py lists pages explicitly, so this file never shows in the
navigation.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

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
    st.error(f"{inert(upload.name)} is {upload.size / 2**20:.1f} MB; this box takes files up to {limit_mb} MB: "
             f"upload a smaller file. {then}".strip())
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


# ---------------------------------------------------------------- kept models

def keep_model(key: str, save: Callable, model, card: dict, name: str, *, use: str = "") -> str | None:
    """"Keep this model": one click saves a session's trained model to this server's kept models (the user registry).

    save: the task's protocol save; name: the base name (a free one is taken: NAME, NAME-2, ...; never a shipped
    model's). Before the click, a warning names the kept models that keeping this one would remove to stay within
    the server's quota (oldest first); after it, the name, the folder and what was removed. Kept models are listed
    on the home page (with Delete) and by `seqcore info`, a Transformer opens in the attention explorer, and they
    survive a server restart. use: a hint after the name ("{name}" is replaced). Returns the kept name, else None.
    """
    from seqcore.checkpoints import measure, size_text

    done = st.session_state.get(f"{key}-kept") or {}
    if done.get("model") is model and done.get("path") and Path(done["path"]).exists():
        where = "; it opens in the attention explorer" if "transformer" in str(card.get("arch", "")) else ""
        hint = f" {use.format(name=done['name'])}." if use else ""
        st.success(f"Kept as **{done['name']}** in `{Path(done['path']).parent}`: listed on the home page (where it "
                   f"can be deleted) and by `seqcore info`{where}, and it stays after a server restart.{hint}",
                   icon=":material/bookmark_added:")
        removed_note(done["removed"])
        return done["name"]
    if done.get("model") is model and done.get("error"):
        st.error(f"{done['error']}. Your model is still here for this session.")
    size = st.session_state.get(f"{key}-size")
    if not size or size[0] is not model:
        try:
            nbytes = measure(save, model, card, name)
        except (SeqcoreError, OSError):
            nbytes = 0  # the save itself will say what is wrong
        st.session_state[f"{key}-size"] = size = (model, nbytes)

    if quota_warning(size[1], doing="Keeping this model") is None:
        return None
    st.button("Keep this model", key=key, icon=":material/bookmark_add:", on_click=_keep,
              args=(key, save, model, card, name), help=f"Save it ({size_text(size[1])}) to this server's kept "
              "models: listed on the home page and by `seqcore info`, kept after a restart, deleted on the home page")
    return None


def _keep(key: str, save: Callable, model, card: dict, base: str) -> None:
    from seqcore.checkpoints import free_name, keep

    try:
        name = free_name(base)
        path, removed = keep(save, model, card, name)
    except SeqcoreError as e:
        st.session_state[f"{key}-kept"] = {"model": model, "error": str(e)}
        return
    st.session_state[f"{key}-kept"] = {"model": model, "name": name, "path": str(path),
                                       "removed": [m.name for m in removed]}


def quota_warning(nbytes: int = 0, *, doing: str = "Keeping this model") -> list[str] | None:
    """st.warning naming the kept models that saving one more model (`nbytes`) would remove, oldest first, to stay
    within the server's quota (SEQCORE_MAX_USER_MODELS / SEQCORE_MAX_USER_MB); returns their names. None, after an
    st.error, when it cannot be saved: the model alone is over the quota, or the host's quota settings are wrong."""
    from seqcore.checkpoints import quota_plan, user_quota

    try:
        plan = quota_plan(nbytes)
    except SeqcoreError as e:
        st.error(str(e))
        return None
    if plan:
        which = "the oldest kept model" if len(plan) == 1 else f"the {len(plan)} oldest kept models"
        st.warning(f"{doing} removes {which}, to stay within this server's quota of {user_quota().describe()}: "
                   + ", ".join(f"`{m.name}` ({m.task}, created {str(m.card.get('created', '?'))[:10]})" for m in plan)
                   + ". Download a model first to keep a copy.", icon=":material/auto_delete:")
    return [m.name for m in plan]


def removed_note(removed: list[str] | None) -> None:
    """After a save: which kept models the quota removed (nothing when none)."""
    if removed:
        st.warning("To stay within this server's quota, the oldest kept models were removed: "
                   + ", ".join(f"`{n}`" for n in removed) + ".", icon=":material/auto_delete:")


# ---------------------------------------------------------------- links that reproduce a view

TEXT_CAP = 500  # characters of a text box that a link keeps


@dataclass(frozen=True)
class Link:
    """One input a page's link carries: URL query parameter `name` <-> st.session_state[`key`] (a widget's key).

    parse(text) -> the widget's value, or raises ValueError(why): the page says why and uses `default`.
    show(value) -> the text in the URL. A value longer than `cap` characters is refused, or cut to `cap` when
    cut=True (text boxes: the Copy link control says so).
    """

    name: str
    key: str
    default: Any
    parse: Callable[[str], Any] = str
    show: Callable[[Any], str] = str
    cap: int = 100
    cut: bool = False


def choice(name: str, key: str, options, default=None, *, label: Callable[[Any], str] = str) -> Link:
    """A selectbox/radio/tabs value; label(option) is its text in the URL (matched ignoring case)."""
    options = list(options)

    def parse(text: str):
        found = [o for o in options if label(o) == text] or [o for o in options if label(o).lower() == text.lower()]
        if not found:
            raise ValueError(f"not one of {_listing(options, label)}")
        return found[0]

    return Link(name, key, options[0] if default is None else default, parse, label)


def choices(name: str, key: str, options, default, *, label: Callable[[Any], str] = str) -> Link:
    """A multiselect value: comma-separated labels in the URL ("" = none chosen)."""
    one = choice(name, key, options, label=label).parse

    def parse(text: str) -> list:
        out = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            try:
                value = one(part)
            except ValueError as e:
                raise ValueError(f"{part[:40]!r} is {e}") from None
            out += [value] if value not in out else []
        return out

    return Link(name, key, list(default), parse, lambda values: ",".join(map(label, values)), cap=400)


def number(name: str, key: str, lo: float, hi: float, default: float, *, step: float | None = None) -> Link:
    """A slider/number_input value in lo..hi: whole numbers when lo, hi and default are ints; snapped to `step`
    (a slider's step) when given."""
    whole = all(isinstance(v, int) for v in (lo, hi, default))

    def parse(text: str):
        try:
            value = int(text.strip()) if whole else float(text.strip())
        except ValueError:
            raise ValueError("not a whole number" if whole else "not a number") from None
        if not lo <= value <= hi:  # also refuses nan
            raise ValueError(f"outside {lo}..{hi}")
        if step:
            value = min(hi, lo + round((value - lo) / step) * step)
        return int(value) if whole else round(value, 6)

    return Link(name, key, default, parse, lambda v: str(v) if whole else f"{v:g}")


def text(name: str, key: str, default: str, *, cap: int = TEXT_CAP) -> Link:
    """A text box: a link keeps its first `cap` characters; control characters (NUL, escape codes) are refused."""

    def parse(value: str) -> str:
        bad = sum(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in value)
        if bad:
            raise ValueError(f"has {bad} control character{'s' * (bad > 1)}")
        return value

    return Link(name, key, default, parse, cap=cap, cut=True)


class PageLinks:
    """A page's inputs in its URL: created under the title (it holds the place of the "Copy link" control).

    restore(links) before those widgets: on the page's first run in a session, and when the browser's back or
    forward button brings an earlier URL, each key is set from the URL (invalid values fall back to the
    default, and one st.warning under the control says which and why); otherwise a key the page dropped (its
    widget was hidden) gets its default. A page may restore in groups, e.g. a model's layers once the model is
    loaded. The widgets then take no value=/index=/default= of their own: session state holds it. publish()
    after the widgets writes the current values to st.query_params, so the address bar always holds the view,
    and fills the "Copy link" control (st.code with the full URL; its copy button copies it).
    """

    def __init__(self, page: str, links: Iterable[Link] = (), *, path: str | None = None) -> None:
        """page: the widget keys' prefix; path: the page's URL path (default: page); links: restored at once."""
        self.page, self.path, self.links, self.problems = page, path or page, [], []
        with st.container(key=f"{page}-link"):
            self.slot, self.notice = st.container(), st.empty()  # the control, then the warning
        self.restore(links)

    def restore(self, links: Iterable[Link]) -> None:
        read = st.session_state.setdefault(f"{self.page}-links-read", set())
        again = _history_navigation()
        for link in links:
            self.links.append(link)
            if link.name in read and not again:
                if link.key not in st.session_state:
                    st.session_state[link.key] = link.default
                continue
            read.add(link.name)
            value, problem = _from_url(link)
            st.session_state[link.key] = value
            self.problems += [problem] if problem else []
        if self.problems:  # one message for all groups: the placeholder is redrawn
            self.notice.warning("This link has values the page cannot use, so it uses others:\n"
                                + "\n".join(f"- {p}" for p in self.problems), icon=":material/link_off:")

    def publish(self) -> str:
        params = {}
        for link in self.links:
            try:
                params[link.name] = link.show(st.session_state.get(link.key, link.default))[: link.cap]
            except (ValueError, TypeError, KeyError, IndexError, AttributeError):
                continue  # a value this run could not show stays out of the link
        if list(st.query_params.to_dict().items()) != list(params.items()):
            st.query_params.from_dict(params)  # one change of the address bar (a browser history entry)
        url = f"{st.context.url or '/' + self.path}?{urlencode(params)}"  # encoded as Streamlit encodes the bar's
        texts = [(link, st.session_state.get(link.key)) for link in self.links if link.cut]
        cut = [f"the first {link.cap:,} of the {len(v):,} characters of {link.name}" for link, v in texts
               if isinstance(v, str) and len(v) > link.cap]
        with self.slot:
            with st.popover("Copy link", icon=":material/link:"), st.container(key=f"{self.page}-link-url"):
                st.code(url, language=None, wrap_lines=True)
                st.caption(f"Opening this link restores {', '.join(params)}; the copy button copies it."
                           + "".join(f" A link keeps up to {t.cap:,} characters of {t.name}." for t, _ in texts))
            if cut:
                st.caption(f"The link keeps {' and '.join(cut)}.")
        return url


def _from_url(link: Link) -> tuple[Any, str]:
    """(value, "") from the URL (the default when absent), or (default, why the URL's value was not used)."""
    raw = st.query_params.get(link.name)
    if raw is None:
        return link.default, ""
    used = f"so the page uses {_quote(link.show(link.default))}"
    if len(raw) > link.cap and not link.cut:
        return link.default, f"**{link.name}** is {len(raw):,} characters long, {used}"
    try:
        value = link.parse(raw[: link.cap])
    except (ValueError, SeqcoreError) as e:  # a task's own check (SeqcoreError) says what is wrong in its words
        return link.default, f"**{link.name}** {_quote(raw)}: {_inert(str(e))}, {used}"
    if len(raw) > link.cap:
        return value, f"**{link.name}** is {len(raw):,} characters long: links keep the first {link.cap}"
    return value, ""


def _quote(value: str, limit: int = 40) -> str:
    """A user's value for a message: shortened, control characters escaped, Markdown and LaTeX inert."""
    return _inert(repr(value[:limit]) + ("…" if len(value) > limit else ""))


def _inert(message: str) -> str:
    return re.sub(r"([\\`*_\[\]<>$~|#])", r"\\\1", message)


def inert(text: str) -> str:
    """Text a user typed (or a model's output, which can echo it) for st.markdown / st.error: Markdown, HTML tags and
    LaTeX in it are shown as typed, never rendered."""
    return _inert(text)


def _listing(options: list, label: Callable[[Any], str], most: int = 8) -> str:
    names = [label(o) for o in options]
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def _history_navigation() -> bool:
    """True on the run the browser's back/forward button caused: the URL, not the widgets, holds the view."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    return bool(getattr(get_script_run_ctx(), "is_history_navigation", False))
