"""`seqcore forecast`, `seqcore backtest`, `seqcore train forecast`: JSON out, CSV written, exit 2 on bad input."""

import json
import re

import pandas as pd
import pytest

from seqcore.data.prices import _package_file
from tests.helpers import cli

GOOG = str(_package_file("backtesting", "test", "GOOG.csv"))


def test_forecast_writes_date_p10_p50_p90(capsys, tmp_path):
    out = tmp_path / "f.csv"
    code, stdout, _ = cli(capsys, "forecast", "--csv", GOOG, "--model", "drift", "--horizon", "5", "--out", str(out))
    assert code == 0
    doc = json.loads(stdout)
    assert doc["last_date"] == "2013-03-01" and len(doc["forecast"]) == 5
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["date", "p10", "p50", "p90"] and frame["date"][0] == "2013-03-04"
    assert (frame["p10"] <= frame["p50"]).all() and (frame["p50"] <= frame["p90"]).all()


def test_forecast_with_a_tiny_lstm(capsys):
    code, stdout, _ = cli(capsys, "forecast", "--csv", GOOG, "--model", "lstm", "--horizon", "2", "--lookback", "10",
                          "--epochs", "1", "--hidden", "8")
    assert code == 0 and len(json.loads(stdout)["forecast"]) == 2


def test_backtest_json_shape(capsys):
    code, stdout, _ = cli(capsys, "backtest", "--csv", GOOG, "--column", "Close", "--model", "linear", "--horizon", "5",
                          "--folds", "30")
    assert code == 0
    doc = json.loads(stdout)
    assert doc["n_origins"] == 30
    for name in ("naive", "linear"):
        assert set(doc[name]) == {"mae", "rmse", "mase", "directional_accuracy", "coverage80"}
    assert doc["naive"]["directional_accuracy"] is None
    assert doc["model"] == {"name": "linear", **doc["linear"]}


@pytest.mark.parametrize(
    "argv, match",
    [
        (["forecast", "--csv", "/no/such.csv", "--model", "naive"], "no such file"),
        (["forecast", "--csv", GOOG, "--model", "naive", "--horizon", "61"], "horizon"),
        (["forecast", "--csv", GOOG, "--column", "Nope", "--model", "naive"], "no column named"),
        (["backtest", "--csv", GOOG, "--model", "naive", "--folds", "5000"], "do not fit|needs"),
        (["backtest", "--csv", GOOG, "--model", "seasonal_naive"], "season"),
    ],
)
def test_bad_input_exits_2(capsys, argv, match):
    code, stdout, err = cli(capsys, *argv)
    assert code == 2 and stdout == ""
    assert "seqcore: error:" in err and re.search(match, err), err


def test_train_forecast_writes_a_checkpoint_with_held_out_metrics(capsys, tmp_path):
    code, stdout, _ = cli(capsys, "train", "forecast", "--model", "lstm", "--horizon", "5", "--lookback", "10",
                          "--epochs", "1", "--hidden", "8", "--out", str(tmp_path), "--name", "fc-tiny")
    assert code == 0
    card = json.loads((tmp_path / "fc-tiny.json").read_text())
    assert card["task"] == "forecast" and card["data"]["train_rows"] == int(2148 * 0.8)
    for k in ("h1_mase", "h1_naive_mase", "h5_coverage80", "h5_drift_mase"):
        assert k in card["metrics"]
    assert card["command"].startswith("seqcore train forecast")
    assert (tmp_path / "fc-tiny.safetensors").exists()


def test_shipped_cards_are_complete():
    from seqcore.checkpoints import list_checkpoints

    shipped = {c.name: c.card for c in list_checkpoints("forecast") if c.source == "shipped"}
    assert {"forecast-goog-lstm", "forecast-goog-transformer"} <= set(shipped)
    for card in shipped.values():
        assert card["data"]["train_end_date"] == "2011-06-14" and card["dtype"] == "float16"
        assert card["metrics"]["h20_n_origins"] >= 50 and card["train_seconds"] > 0
        assert card["command"] == f"seqcore train forecast --model {card['config']['forecast']['model']} --shipped"
