"""Broken shipped checkpoints, page x breakage: every page that loads a shipped file, broken every way copies break.

Each case breaks one shipped file in a private copy (the `shipped` fixture), opens the page in a fresh AppTest and
checks: no exception element; an st.error that names the checkpoint and the problem, said once (not once per place
the model is used); a Retrain button; and the rest of the page still works (the row's own check). A new page that
loads a shipped checkpoint adds a row to PAGES; a new way of breaking one adds an entry to helpers.BREAKAGES.

The Retrain *flow* (click, train, use the new model, shipped file untouched) is in tests/test_faults.py.
"""

from __future__ import annotations

import pytest

from tests.conftest import open_page
from tests.helpers import BREAKAGES, break_checkpoint, messages, trace_names

# The breakages that leave the model card readable: the registry still lists the checkpoint, so pickers offer it.
LISTED = {"corrupt weights", "mismatched weights"}


class NoRetrain(AssertionError):
    """The page says what is broken but offers no Retrain button for it."""


# ---------------------------------------------------------------- per-page steps and checks


def music_generate_with_the_broken_model(at) -> None:
    at.slider(key="music-length").set_value(50)
    at.button(key="music-generate").click().run()  # Generate must not say it again under the banner


def forecast_works(at) -> None:
    names = trace_names(at, "forecast-chart")
    assert {"Transformer median", "naive (random walk) median"} <= set(names), names
    assert "LSTM median" not in names
    assert any("LSTM: no model" in c.value and "press Train" in c.value for c in at.caption)


def music_works(at) -> None:
    at.radio(key="music-model").set_value("transformer").run()
    at.button(key="music-generate").click().run()
    assert not at.error, messages(at)
    assert [r["label"] for r in at.session_state["music-results"]] == ["music-transformer"]


def sentiment_works(at) -> None:
    rows = next(d.value for d in at.dataframe if "latency (ms)" in d.value.columns)
    assert {"sentiment-transformer (Transformer, shipped)", "VADER lexicon"} <= set(rows["model"]), rows
    assert not any(m.startswith("sentiment-lstm") for m in rows["model"]), rows


def sentiment_evaluate_broken(at, name: str, phrases: tuple[str, ...], listed: bool) -> None:
    picker = at.selectbox(key="sentiment-eval-model")
    offered = [o for o in picker.options if o.startswith(f"{name} (")]
    assert bool(offered) == listed, picker.options  # a checkpoint the registry cannot read is not offered
    if listed:
        picker.set_value(offered[0])
        at.number_input(key="sentiment-eval-n").set_value(50)
        at.button(key="sentiment-eval-run").click().run()
        assert any(p in e.value and "Pick another model" in e.value for e in at.error for p in phrases), messages(at)


def captioning_works(at) -> None:
    shown = [c.value.split(" · ")[0] for c in at.caption if c.value.startswith("model ")]
    assert shown == ["model caption-transformer-shapes"], shown
    assert any(m.value.startswith("### ") for m in at.markdown)


def captioning_evaluate_broken(at, name: str, phrases: tuple[str, ...], listed: bool) -> None:
    picker = at.selectbox(key="captioning-eval-model")
    assert (name in picker.options) == listed, picker.options
    if listed:
        picker.set_value(name)
        at.number_input(key="captioning-eval-n").set_value(20)
        at.button(key="captioning-eval").click().run()
        assert any(p in e.value and "Pick another model" in e.value for e in at.error for p in phrases), messages(at)


def attention_works(at) -> None:
    options = at.selectbox(key="attention-model").options
    at.radio(key="attention-source").set_value("The model's own example").run()
    at.selectbox(key="attention-model").set_value(next(i for i, o in enumerate(options)
                                                       if o.startswith("music-transformer "))).run()
    assert any(c.proto.id and "attention-fig" in c.proto.id for c in at.get("plotly_chart"))


def translation_works(at) -> None:
    assert any("translate-transformer" in s.value for s in at.subheader), [s.value for s in at.subheader]
    assert any(m.value.startswith("### ") and m.value != "### (empty)" for m in at.markdown)


def memory_lab_works(at) -> None:
    assert not at.button(key="memory-lab-train").disabled  # training a new run is still offered


# ---------------------------------------------------------------- the table

# checkpoint: the shipped file broken; other: a shipped checkpoint whose weights do not fit it; retrain: the key of
# the Retrain button (None: the page has none); use: what a user does first with the broken model (optional);
# works: the rest of the page still works; evaluate: the page's other picker and the broken model (optional);
# breakages: the BREAKAGES that apply (default all).
PAGES: dict[str, dict] = {
    "forecast": {"checkpoint": "forecast-goog-lstm", "other": "forecast-goog-transformer",
                 "retrain": "forecast-retrain-lstm", "works": forecast_works},
    "music": {"checkpoint": "music-lstm", "other": "music-transformer", "retrain": "music-retrain-lstm",
              "use": music_generate_with_the_broken_model, "works": music_works},
    "sentiment": {"checkpoint": "sentiment-lstm", "other": "sentiment-transformer",
                  "retrain": "sentiment-retrain-sentiment-lstm", "works": sentiment_works,
                  "evaluate": sentiment_evaluate_broken},
    "captioning": {"checkpoint": "caption-lstm-shapes", "other": "caption-transformer-shapes",
                   "retrain": "captioning-retrain-lstm", "works": captioning_works,
                   "evaluate": captioning_evaluate_broken},
    "attention": {"checkpoint": "attention-char-transformer", "other": "music-transformer",
                  "retrain": "attention-retrain", "works": attention_works},
    "translation": {"checkpoint": "translate-rnn", "other": "translate-transformer",
                    "retrain": "translation-retrain-rnn", "works": translation_works},
    # The shipped default run is a results file (no weights): only a corrupt file applies.
    "memory_lab": {"checkpoint": "memory_lab_default", "retrain": "memory-lab-retrain", "works": memory_lab_works,
                   "breakages": ["corrupt card"]},
}

# Findings: a page that says what is broken but offers no Retrain. Strict: fixing the page turns the case red until
# its line here goes; any other failure in these cases fails as usual (raises=NoRetrain).
NO_RETRAIN: dict[tuple[str, str], str] = {}


def cases():
    for page, row in PAGES.items():
        for how in row.get("breakages", BREAKAGES):
            marks = [pytest.mark.xfail(raises=NoRetrain, strict=True, reason=NO_RETRAIN[page, how])] \
                if (page, how) in NO_RETRAIN else []
            yield pytest.param(page, how, id=f"{page}-{how.replace(' ', '-')}", marks=marks)


@pytest.mark.parametrize("page, how", list(cases()))
def test_broken_shipped_checkpoint(shipped, page, how):
    """Said once in an st.error (the checkpoint and the problem), a Retrain button, and the rest of the page works."""
    row = PAGES[page]
    name = row["checkpoint"]
    phrases = break_checkpoint(shipped, name, how, row.get("other", ""))
    at = open_page(page)  # fails on an exception element
    if "use" in row:
        row["use"](at)
        assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any(p in e for e in errors for p in phrases), (phrases, messages(at, info=True))
    said = [m for m in messages(at, info=True) if name in m]
    assert len(said) == 1, said
    button = next((b for b in at.button if b.key == row["retrain"]), None) if row["retrain"] else None
    retrain = button is not None and button.label.startswith("Retrain") and not button.disabled
    if "evaluate" in row:
        row["evaluate"](at, name, phrases, how in LISTED)
        assert not at.exception, at.exception
    row["works"](at)
    assert not at.exception, at.exception
    assert all(name in e.value for e in at.error), messages(at)  # nothing else went wrong on the way
    if not retrain:
        raise NoRetrain(f"{page}: {name} ({how}) is said without a Retrain button; buttons: "
                        f"{[(b.key, b.label) for b in at.button]}")
