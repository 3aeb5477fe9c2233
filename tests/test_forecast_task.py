"""Forecasters: no leakage, metrics by hand, naive MASE = 1, quantile band, what-if, checkpoints, probe."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from seqcore.checkpoints import find_checkpoint, info_at
from seqcore.data.prices import PriceSeries, load_goog
from seqcore.errors import InputError
from seqcore.models.forecaster import QuantileForecaster, QuantileForecasterConfig, pinball_loss
from seqcore.tasks import forecasting as fc
from seqcore.tasks.forecast_metrics import naive_scale, score

TINY = fc.ForecastTaskConfig(lookback=10, horizon=3, hidden=8, epochs=2, batch_size=64, season=5)


@pytest.fixture(scope="module")
def goog():
    return load_goog()


def short(goog, n=300):
    return PriceSeries(goog.name, goog.dates[:n], goog.values[:n].copy(), "price")


def test_metrics_match_a_hand_computation():
    actual = np.array([[11.0, 12.0], [9.0, 9.0]])
    p50 = np.array([[10.5, 13.0], [10.0, 8.0]])
    p10, p90 = p50 - 1, p50 + 1
    m = score(actual, p10, p50, p90, origin=np.array([10.0, 10.0]), scale=2.0)
    errors = np.array([0.5, 1.0, 1.0, 1.0])
    assert m["mae"] == pytest.approx(errors.mean())
    assert m["rmse"] == pytest.approx(np.sqrt((errors**2).mean()))
    assert m["mase"] == pytest.approx(errors.mean() / 2.0)
    # directions: (+,+) (+,+) (0 forecast -> skipped) (-,-) => 3 of 3
    assert m["directional_accuracy"] == pytest.approx(1.0)
    assert m["coverage80"] == pytest.approx(1.0)  # every error is <= 1
    assert naive_scale(np.array([1.0, 3.0, 2.0])) == pytest.approx(1.5)


def test_naive_mase_is_one_on_its_own_training_series(goog):
    v = goog.values[:500]
    naive_in_sample = v[:-1]  # the one-step naive forecast of v[1:]
    m = score(v[1:, None], naive_in_sample[:, None], naive_in_sample[:, None], naive_in_sample[:, None],
              origin=v[:-1], scale=naive_scale(v))
    assert m["mase"] == pytest.approx(1.0)
    assert m["directional_accuracy"] is None


def test_pinball_loss_and_quantiles_never_cross():
    pred = torch.tensor([[[0.0, 1.0, 2.0]]])
    target = torch.tensor([[1.0]])
    # errors 1, 0, -1 -> 0.1*1, 0, (0.9-1)*-1 = 0.1 ; mean over 3 quantiles
    assert float(pinball_loss(pred, target)) == pytest.approx(0.2 / 3)
    torch.manual_seed(0)
    for arch in ("lstm", "transformer"):
        net = QuantileForecaster(QuantileForecasterConfig(arch=arch, lookback=8, horizon=4, hidden=8, layers=1))
        out = net(torch.randn(5, 8, 1) * 10)
        assert out.shape == (5, 4, 3)
        assert (out[..., 0] <= out[..., 1]).all() and (out[..., 1] <= out[..., 2]).all()


@pytest.mark.parametrize("name", fc.MODELS)
def test_forecast_at_an_origin_ignores_values_after_it(goog, name):
    """No leakage: changing everything after the origin changes neither the fit nor the forecast."""
    series = short(goog)
    origin = 250
    cfg = replace(TINY, model=name)
    a = fc.build(cfg, "price").fit(series.values[: origin + 1]).predict(series.values[: origin + 1])
    changed = series.values.copy()
    changed[origin + 1:] *= 3.0
    b = fc.build(cfg, "price").fit(changed[: origin + 1]).predict(changed[: origin + 1])
    np.testing.assert_allclose(a, b)
    assert a.shape == (3, 3) and (a[:, 0] <= a[:, 1]).all() and (a[:, 1] <= a[:, 2]).all()


def test_backtest_fits_before_the_first_origin_and_scalers_see_only_training(goog):
    series = short(goog)
    r = fc.backtest(series, replace(TINY, model="lstm"), ["lstm", "drift"], folds=20)
    assert list(r.metrics) == ["naive", "lstm", "drift"]
    assert r.train_rows == r.origins[0] + 1 == 300 - 3 - 19
    assert r.forecasts["lstm"].shape == (20, 3, 3) and r.actual.shape == (20, 3)
    # the LSTM's scaler: steps of its training windows only (validation windows excluded)
    m = fc.build(replace(TINY, model="lstm"), "price").fit(series.values[: r.train_rows])
    steps = np.diff(np.log(series.values[: r.train_rows]))
    assert m.transform.mu != pytest.approx(steps.mean())  # not the whole training part: validation excluded
    n_origins = r.train_rows - 10 - 3
    n_train = n_origins - int(n_origins * 0.15) - 3
    seen = np.diff(np.log(series.values[: 10 + n_train - 1 + 3 + 1]))
    assert m.transform.mu == pytest.approx(seen.mean()) and m.transform.sd == pytest.approx(seen.std())
    assert any("random walk" in v for v in r.verdicts())


def test_backtest_reuses_a_model_only_when_it_has_not_seen_the_test(goog):
    series = short(goog)
    cfg = replace(TINY, model="linear")
    peeked = fc.build(cfg, "price").fit(series.values, series_name=series.name)
    peeked.coef[:] = 0.0  # a reused model would forecast flat; a refit one would not
    r = fc.backtest(series, cfg, {"linear": peeked}, folds=10)
    assert not np.allclose(r.forecasts["linear"][..., 1], r.forecasts["naive"][..., 1])


def test_seasonal_naive_repeats_the_last_season():
    v = np.tile([10.0, 11.0, 12.0, 13.0, 14.0], 20)
    m = fc.build(replace(TINY, model="seasonal_naive", horizon=7), "level").fit(v)
    q = m.predict(v, 7)
    np.testing.assert_allclose(q[:, 1], [10, 11, 12, 13, 14, 10, 11])
    np.testing.assert_allclose(q[:, 0], q[:, 1])  # an exact season leaves no error spread


def test_config_and_input_errors():
    with pytest.raises(InputError, match="horizon"):
        fc.ForecastTaskConfig(horizon=61).check()
    with pytest.raises(InputError, match="season"):
        fc.ForecastTaskConfig(model="seasonal_naive").check()
    with pytest.raises(InputError, match="at least"):
        fc.build(TINY, "price").fit(np.arange(1.0, 20.0))
    m = fc.build(replace(TINY, model="naive"), "price").fit(np.arange(1.0, 100.0))
    with pytest.raises(InputError, match="retrain"):
        m.predict(np.arange(1.0, 100.0), 10)


def test_scenarios():
    v = np.linspace(100, 120, 80)
    assert fc.scenario(v, "price", shock=-0.2)[-1] == pytest.approx(96.0)
    np.testing.assert_allclose(fc.scenario(v, "price")[:], v)
    calm = fc.scenario(v * (1 + 0.05 * np.sin(np.arange(80))), "price", vol_scale=0.0, vol_window=20)
    r = np.diff(np.log(calm[-21:]))
    assert r.std() == pytest.approx(0.0, abs=1e-12)
    edited = fc.scenario(v, "price", edits=np.array([1.0, 2.0]))
    assert list(edited[-2:]) == [1.0, 2.0]
    with pytest.raises(InputError, match="50%"):
        fc.scenario(v, "price", shock=0.9)
    with pytest.raises(InputError, match="positive"):
        fc.scenario(v, "price", edits=np.array([-1.0]))


def test_what_if_reforecast_uses_the_trained_model_without_retraining(goog):
    series = short(goog)
    m = fc.build(replace(TINY, model="lstm"), "price").fit(series.values)
    before = {k: v.clone() for k, v in m.net.state_dict().items()}
    base = fc.forecast(m, series)
    shocked = fc.forecast(m, series, history=fc.scenario(series.values, "price", shock=-0.3))
    assert shocked.p50[0] < base.p50[0] * 0.8
    assert all(torch.equal(before[k], v) for k, v in m.net.state_dict().items())


def test_train_save_load_round_trip_and_attention_probe(goog, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))
    cfg = replace(TINY, model="transformer", hidden=8, heads=2, train_rows=300)  # the first 300 GOOG closes
    m, card = fc.train(cfg)
    assert "transformer" in card["arch"] and card["task"] == "forecast" and m.card is card
    assert card["data"]["train_rows"] == 300 and card["data"]["test_rows"] == len(goog) - 300
    assert card["metrics"]["h1_n_origins"] == len(goog) - 300 and "h5_mase" not in card["metrics"]  # horizon 3
    fc.save(m, card, "forecast-test-transformer")
    loaded, loaded_card = fc.load("forecast-test-transformer")
    assert loaded_card["dtype"] == "float16" and loaded.fit_rows == 300 and loaded.fit_series == "GOOG Close"
    np.testing.assert_allclose(loaded.predict(goog.values), m.predict(goog.values), rtol=1e-5)
    assert fc.evaluate(loaded) == card["metrics"]  # train rounded the weights as save stores them
    from seqcore.tasks.probe import probe_for

    probe = probe_for(find_checkpoint("forecast-test-transformer"))
    out = probe.model(probe.x, probe.context, return_attention=True)
    assert probe.x.shape == (1, 10, 1) and len(probe.tokens) == 10 and probe.tokens[-1] == "2013-03-01"
    assert out.attentions[0].shape == (1, 2, 10, 10)


def test_evaluate_reproduces_the_shipped_cards():
    for name in ("forecast-goog-lstm", "forecast-goog-transformer"):
        model, card = fc.load(name)
        assert fc.evaluate(model) == card["metrics"]
        short = fc.evaluate(model, limit=16)
        assert short["h20_n_origins"] == 16 and set(short) == set(card["metrics"])


def test_best_name_is_the_lowest_held_out_mase(tmp_path, monkeypatch):
    from seqcore.checkpoints import list_checkpoints

    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))
    cards = {c.name: c.card["metrics"][fc.BEST_METRIC] for c in list_checkpoints("forecast")}
    assert fc.best_name() == min(cards, key=cards.get)
    assert fc.load()[1]["name"] == fc.best_name()


def test_train_models_names_each_model_and_numbers_steps_on(goog):
    cfgs = [replace(TINY, model=m, train_rows=300, epochs=1) for m in ("lstm", "transformer")]
    seen = []
    out = fc.train_models(cfgs, on_progress=seen.append, command="a test")
    assert list(out) == ["lstm", "transformer"] and all(m.card["command"] == "a test" for m in out.values())
    assert [p.model for p in seen] == ["LSTM"] * len(out["lstm"].history) + ["Transformer"] * len(
        out["transformer"].history)
    steps = [p.step for p in seen]
    assert steps == sorted(steps) and steps[-1] == out["lstm"].history[-1].step + out["transformer"].history[-1].step


def test_a_users_series_trains_from_the_config_alone(goog, tmp_path):
    series = PriceSeries("my prices", goog.dates[:400], goog.values[:400].copy(), "price")
    m, card = fc.train(replace(TINY, model="lstm", epochs=1, series=series))
    assert card["data"]["series"] == "my prices" and card["data"]["train_rows"] == 320
    assert card["config"]["forecast"]["dataset"] is None and "series" not in card["config"]["forecast"]
    assert fc.evaluate(m, series=series) == card["metrics"]
    path = fc.save(m, card, out=tmp_path)
    assert path.name == "forecast-my-lstm.safetensors"
    loaded, _ = fc.load(info_at(path.with_suffix("")))
    with pytest.raises(InputError, match="not stored"):
        fc.evaluate(loaded)  # the user's series is not kept with the model: evaluate says what to pass
    assert fc.evaluate(loaded, series=series) == card["metrics"]
    with pytest.raises(InputError, match="not the series"):
        fc.evaluate(loaded, series=goog)


def test_zip_download_is_what_save_writes(goog, tmp_path):
    import io
    import zipfile

    from seqcore.checkpoints import zip_bytes

    m, card = fc.train(replace(TINY, model="lstm", epochs=1, train_rows=300))
    names = zipfile.ZipFile(io.BytesIO(zip_bytes(fc.save, m, card, "forecast-mine-lstm"))).namelist()
    assert sorted(names) == ["forecast-mine-lstm.json", "forecast-mine-lstm.safetensors"]


def test_level_series_forecast_in_degrees():
    from seqcore.data.prices import load_weather

    w = load_weather("temp_max")
    r = fc.backtest(w, replace(TINY, model="linear", lookback=14, horizon=5, season=365), ["linear", "seasonal_naive"],
                    folds=60)
    assert all(np.isfinite(q).all() for q in r.forecasts.values())
    assert r.metrics["linear"]["mae"] < 10  # degrees C, not log units
    assert w.values.min() < 0  # differences, not log returns: negative temperatures are fine


@pytest.mark.slow
def test_default_lstm_ties_or_beats_the_random_walk_on_held_out_goog(goog):
    """The shipped recipe, retrained: within 2% of naive MASE at h=5 and a sane 80% band."""
    cfg = fc.ForecastTaskConfig(model="lstm", horizon=5)
    train_rows = int(len(goog) * 0.8)
    r = fc.backtest(goog, cfg, ["lstm"], folds=len(goog) - 5 - train_rows + 1)
    assert r.metrics["lstm"]["mase"] <= 1.02 * r.metrics["naive"]["mase"]
    assert 0.7 <= r.metrics["lstm"]["coverage80"] <= 0.95


def test_verdict_wording_is_honest_about_ties():
    assert fc.compare_to_naive(1.20, 1.16) == "does not beat"
    assert fc.compare_to_naive(1.156, 1.160) == "only ties (within 1%)"
    assert fc.compare_to_naive(4.09, 4.29) == "beats"


def test_conformal_band_scale_reaches_80_percent_on_its_own_data():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(2000, 2))
    z = np.zeros((2000, 2, 3))
    z[..., 0], z[..., 2] = -3.0, 3.0  # a band far too wide for N(0, 1)
    s = fc.band_scale(z, y)
    assert s == pytest.approx([1.2816 / 3] * 2, rel=0.05)  # 80% of N(0,1) lies within +-1.2816
    w = fc.widen(z, s)
    assert ((y >= w[..., 0]) & (y <= w[..., 2])).mean() == pytest.approx(0.8, abs=0.01)
    np.testing.assert_allclose(w[..., 1], 0.0)
