"""AppTest of pages/forecast.py: default flow, training, what-if, and each bad input shows st.error."""

import json

import pandas as pd
import pytest

from seqcore.data import live
from tests.conftest import make_app, open_page
from tests.helpers import chart, said

PAGE = "pages/forecast.py"


def test_default_flow_uses_shipped_models_backtest_and_what_if():
    at = open_page(PAGE)
    assert not at.error, [e.value for e in at.error]
    names = [t.get("name") for t in chart(at, "forecast-chart")["data"]]
    assert "LSTM median" in names and "Transformer median" in names and "naive (random walk) median" in names
    table = at.dataframe[1].value  # [0] is the forecast table
    assert {"naive (random walk)", "LSTM", "Transformer"} <= set(table["model"])
    assert (table["coverage80"].between(0, 1)).all()
    assert any("random walk" in s.value for s in [*at.success, *at.warning])
    at.slider(key="forecast-shock").set_value(-30).run()
    assert not at.exception and not at.error
    names = [t.get("name") for t in chart(at, "forecast-whatif-chart")["data"]]
    assert "scenario median" in names and "scenario history" in names
    at.number_input(key="forecast-edit-n").set_value(3).run()
    assert not at.exception and not at.error


def test_training_a_small_lstm_in_the_session():
    at = open_page(PAGE)
    at.multiselect(key="forecast-models").set_value(["lstm", "linear"]).run()
    at.slider(key="forecast-lookback").set_value(10).run()
    at.number_input(key="forecast-epochs").set_value(1).run()
    at.selectbox(key="forecast-hidden").set_value(8).run()
    assert any("press Train" in c.value for c in at.caption)
    at.button(key="forecast-train").click().run()
    job = at.session_state["forecast-job"]
    assert job.wait(120) and job.error is None
    assert {p.model for p in job.snapshot()} == {"LSTM"}  # the shared panel names the model in training
    at.run()
    at.run()  # the finished job's models move into the session, then the page redraws with them
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "lstm" in at.session_state["forecast-trained"]
    names = [t.get("name") for t in chart(at, "forecast-chart")["data"]]
    assert "LSTM median" in names and "linear AR median" in names
    assert at.get("download_button")  # forecast CSV and the trained model


def test_keep_a_trained_model_then_the_home_page_lists_and_deletes_it(home, monkeypatch):
    """Keep this model: saved to the user registry with its card, seen by a new session (what a restart leaves: the
    files), listed on the home page, and gone after its Delete. At the quota (here 1 model), a warning names the kept
    model that will go before the click, and the page says it went after."""
    import torch

    from seqcore.checkpoints import make_card, save_checkpoint

    save_checkpoint(torch.nn.Linear(2, 2), make_card("music", "char-lstm", {}), home / "checkpoints" / "old-tune")
    monkeypatch.setenv("SEQCORE_MAX_USER_MODELS", "1")
    at = open_page(PAGE)
    at.multiselect(key="forecast-models").set_value(["lstm"])
    at.slider(key="forecast-lookback").set_value(10)
    at.number_input(key="forecast-epochs").set_value(1)
    at.selectbox(key="forecast-hidden").set_value(8).run()
    at.button(key="forecast-train").click().run()
    assert at.session_state["forecast-job"].wait(120)
    at.run()
    at.run()
    assert at.button(key="forecast-keep-lstm").label == "Keep this model"
    assert said(at, "Keeping this model removes the oldest kept model", "quota of 1 model and 200 MB",
                "`old-tune` (music")
    at.button(key="forecast-keep-lstm").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    name = at.session_state["forecast-keep-lstm-kept"]["name"]
    assert name == "forecast-goog-lstm-mine"  # the task's name + "-mine": never a shipped model's name
    (kept,) = [s.value for s in at.success if s.value.startswith("Kept as")]
    assert f"**{name}** in `{home / 'checkpoints'}`" in kept and "home page" in kept
    card = json.loads((home / "checkpoints" / f"{name}.json").read_text())
    assert card["task"] == "forecast" and card["kept"] and card["command"] == "Sequence Studio forecast page"
    assert "forecast-keep-lstm" not in [b.key for b in at.button]  # kept once, not twice
    assert said(at, "the oldest kept models were removed: `old-tune`")
    assert not (home / "checkpoints" / "old-tune.json").exists()

    front = make_app()  # a new session: only the files tell it about the kept model
    front.run()
    assert not front.exception
    assert any(name in m.value for m in front.markdown) and any("1 of 1 models" in c.value for c in front.caption)
    front.button(key=f"home-delete-{name}").click().run()
    assert not front.exception and any(f"Deleted {name}" in s.value for s in front.success)
    assert not list((home / "checkpoints").glob(f"{name}.*"))
    assert f"home-delete-{name}" not in [b.key for b in front.button]
    at.run()  # the page offers to keep it again: the file is gone
    assert at.button(key="forecast-keep-lstm").label == "Keep this model"


def _upload(at, data: bytes, name="prices.csv"):
    at.radio(key="forecast-source").set_value("Upload CSV").run()
    at.file_uploader(key="forecast-upload").set_value((name, data, "text/csv")).run()
    return at


def _rows(n=400):
    dates = pd.bdate_range("2020-01-01", periods=n)
    return [f"{d.date()},{100 + (i % 7)}" for i, d in enumerate(dates)]


@pytest.mark.parametrize(
    "body, match",
    [
        ("date,name\n2024-01-01,a\n2024-01-02,b\n", "no numeric column"),
        ("date,price\n2024-01-01,1\nsoon,2\n2024-01-03,3\n", "not dates"),
        ("date,price\n2024-01-01,1\n2024-01-01,2\n2024-01-03,3\n", "repeat"),
        ("date,price\n2024-01-02,1\n2024-01-01,2\n2024-01-03,3\n", "increasing order"),
        ("date,price\n" + "\n".join(_rows(400)[:10] + [r.split(",")[0] + "," for r in _rows(400)[10:20]]) + "\n",
         "missing values"),
    ],
)
def test_bad_uploads_show_errors_and_fall_back(body, match):
    at = _upload(open_page(PAGE), body.encode())
    assert not at.exception
    assert any(match in e.value for e in at.error), [e.value for e in at.error]
    assert any("GOOG" in e.value for e in at.error)  # says what it shows instead
    assert chart(at, "forecast-chart")  # the embedded data still works


def test_short_upload_and_good_upload():
    at = _upload(open_page(PAGE), ("date,price\n" + "\n".join(_rows(60)) + "\n").encode())
    assert any("need" in e.value and "rows" in e.value for e in at.error)
    at = _upload(open_page(PAGE), ("date,price\n" + "\n".join(_rows(400)) + "\n").encode())
    assert not at.error and not at.exception
    assert chart(at, "forecast-chart")["layout"]["title"]["text"].startswith("price")


def test_live_failures_show_the_reason_and_embedded_data(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))

    def offline(*a):
        raise RuntimeError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(live, "_download", offline)
    at = open_page(PAGE)
    at.radio(key="forecast-source").set_value("Live (Yahoo Finance)").run()
    at.text_input(key="forecast-ticker").set_value("AAPL").run()
    at.button(key="forecast-fetch").click().run()
    assert any("could not be reached" in e.value and "embedded GOOG" in e.value for e in at.error)
    assert chart(at, "forecast-chart")
    at.text_input(key="forecast-ticker").set_value("BAD TICKER!").run()
    at.button(key="forecast-fetch").click().run()
    assert any("not valid" in e.value for e in at.error)


def test_bad_settings_show_errors():
    at = open_page(PAGE)
    at.multiselect(key="forecast-models").set_value(["seasonal_naive"]).run()
    at.number_input(key="forecast-season").set_value(0).run()
    assert any("season" in e.value for e in at.error)
    at = open_page(PAGE)
    at.selectbox(key="forecast-dataset").set_value("Seattle weather").run()
    at.multiselect(key="forecast-models").set_value(["seasonal_naive"]).run()
    assert not at.exception and not at.error  # a 365-day season fits four years of weather
    assert "seasonal naive median" in [t.get("name") for t in chart(at, "forecast-chart")["data"]]
    at = _upload(open_page(PAGE), ("date,price\n" + "\n".join(_rows(400)) + "\n").encode())
    at.multiselect(key="forecast-models").set_value(["seasonal_naive"]).run()
    at.number_input(key="forecast-season").set_value(300).run()
    assert any("too long" in e.value for e in at.error), [e.value for e in at.error]

