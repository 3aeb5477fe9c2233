"""AppTest of the sentiment page: predictions side by side, reading curve, batch, evaluation, training."""

import io
from pathlib import Path

import pandas as pd
import pytest

from seqcore.data.reviews import load_splits
from seqcore.tasks import sentiment as S
from tests.conftest import open_page

FIXTURE = Path(__file__).parent / "fixtures" / "reviews_tiny.csv"
TEXT_KEY = "sentiment-text-0"  # the text box of the first example


@pytest.fixture(scope="module", autouse=True)
def tiny_checkpoint():
    """A tiny user checkpoint, so the page always has a model whatever is shipped."""
    model, card = S.train(S.Config(model="lstm", size="tiny", epochs=1, batch_size=8, reviews=str(FIXTURE),
                                   vader=False))
    S.save(model, card, "sentiment-page-test")


COLUMNS = {"sentiment-table": "latency (ms)", "sentiment-batch-table": "p_positive", "sentiment-mistakes": "text"}


def table(at, key) -> pd.DataFrame:
    """The dataframe a key names, found by a column only it has (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if COLUMNS[key] in d.value.columns)


def chart_ids(at) -> list[str]:
    return [el.proto.id for el in at.main.get("plotly_chart")]


def test_prediction_side_by_side_and_reading_curve():
    at = open_page("sentiment")
    rows = table(at, "sentiment-table")
    assert "VADER lexicon" in set(rows["model"])
    assert any("sentiment-page-test" in m for m in rows["model"])
    assert set(rows["label"]) <= {"positive", "negative"}
    assert rows["P(positive)"].between(0, 1).all() and (rows["latency (ms)"] >= 0).all()
    assert not at.error
    ids = chart_ids(at)
    assert any("sentiment-running" in i for i in ids) and any("sentiment-heatmap" in i for i in ids)


def test_empty_long_and_foreign_text():
    at = open_page("sentiment")
    at.text_area(key=TEXT_KEY).set_value("   ").run()
    assert any("empty" in e.value for e in at.error)
    at.text_area(key=TEXT_KEY).set_value("great " * 400).run()
    assert not at.error and any("first 256" in w.value for w in at.warning)
    at.text_area(key=TEXT_KEY).set_value("Ein wirklich großartiger Film 😀").run()
    assert not at.error and any("English movie reviews" in i.value for i in at.info)


def test_batch_paste_and_csv_without_text_column():
    at = open_page("sentiment")
    at.text_area(key="sentiment-batch-lines").set_value("great film\n\nawful film\nok").run()
    assert len(table(at, "sentiment-batch-table")) == 3
    at.radio(key="sentiment-batch-mode").set_value("Upload CSV").run()
    at.file_uploader(key="sentiment-batch-file").set_value(("r.csv", b"review,stars\ngood,5\n", "text/csv")).run()
    assert any("no 'text' column" in e.value and "review" in e.value for e in at.error)
    at.text_input(key="sentiment-batch-col").set_value("review").run()
    assert not at.error and len(table(at, "sentiment-batch-table")) == 1


def test_held_out_evaluation_with_vader():
    at = open_page("sentiment")
    at.selectbox(key="sentiment-eval-source").set_value("mr")
    at.selectbox(key="sentiment-eval-model").set_value("VADER lexicon")
    at.number_input(key="sentiment-eval-n").set_value(50)
    at.button(key="sentiment-eval-run").click().run()
    assert not at.exception and not at.error
    labels = [m.label for m in at.metric]
    assert "VADER" in labels and "Majority class" in labels
    assert any("sentiment-confusion" in i for i in chart_ids(at))


def test_train_your_own_in_the_background():
    at = open_page("sentiment")
    at.selectbox(key="sentiment-train-size").set_value("tiny")
    at.number_input(key="sentiment-train-epochs").set_value(1)
    at.number_input(key="sentiment-train-rows").set_value(200)
    at.button(key="sentiment-train-run").click().run()
    job = at.session_state["sentiment-job"]
    assert job.wait(90) and job.error is None, job.error
    at.run()
    assert any("Held-out accuracy" in s.value for s in at.success)
    assert "Your model (this session)" in at.selectbox(key="sentiment-read-model").options
    assert not at.exception


def test_csv_download_content_is_the_table():
    at = open_page("sentiment")
    at.text_area(key="sentiment-batch-lines").set_value("fine film").run()
    df = table(at, "sentiment-batch-table")
    assert list(df.columns) == ["text", "label", "p_positive"]
    assert pd.read_csv(io.StringIO(df.to_csv(index=False))).shape == (1, 3)


def test_the_default_model_is_the_best_card():
    at = open_page("sentiment")
    best = S.best_name()
    assert at.selectbox(key="sentiment-read-model").value.startswith(f"{best} (")
    assert at.selectbox(key="sentiment-eval-model").value.startswith(f"{best} (")
    assert table(at, "sentiment-table")["model"].iloc[0].startswith(f"{best} (")


def test_tfidf_baseline_is_fitted_on_request_and_shown(monkeypatch):
    import streamlit as st

    st.cache_resource.clear()
    fits = []
    real_fit = S.fit_tfidf

    def small_fit(splits=None, source="both"):  # the tiny file, so the test does not take the real 20 s
        fits.append(1)
        return real_fit(load_splits(path=FIXTURE))

    monkeypatch.setattr(S, "fit_tfidf", small_fit)
    at = open_page("sentiment")
    assert fits == [] and "TF-IDF + logistic regression" not in set(table(at, "sentiment-table")["model"])
    at.button(key="sentiment-tfidf-fit").click().run()
    assert not at.exception and not at.error and fits == [1]
    assert "TF-IDF + logistic regression" in set(table(at, "sentiment-table")["model"])
    ids = chart_ids(at)
    assert all(any(k in i for i in ids) for k in ("sentiment-tfidf-text", "sentiment-tfidf-pos", "sentiment-tfidf-neg"))
    at.selectbox(key="sentiment-eval-source").set_value("mr")
    at.number_input(key="sentiment-eval-n").set_value(50)
    at.button(key="sentiment-eval-run").click().run()
    assert not at.exception and not at.error and fits == [1]  # fitted once, cached
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["TF-IDF + LR"].endswith("%") and "VADER" in metrics
    at.selectbox(key="sentiment-batch-model").set_value("TF-IDF + logistic regression")
    at.text_area(key="sentiment-batch-lines").set_value("great film\nawful film").run()
    assert not at.error and len(table(at, "sentiment-batch-table")) == 2
