"""The training loop: it learns, it stops when asked, early stopping restores the best weights."""

import threading

import torch
from torch.utils.data import TensorDataset

from seqcore.train import TrainConfig, evaluate_loss, fit
from tests.helpers import V, counting_data, lm_loss, model


def test_tiny_lstm_learns_counting():
    m = model()
    data = counting_data()
    before = evaluate_loss(m, lm_loss, data, 32, torch.device("cpu"))
    result = fit(m, lm_loss, data, counting_data(16, seed=1),
                 TrainConfig(epochs=60, batch_size=16, lr=1e-2, patience=None), device=torch.device("cpu"))
    assert before > 1.5  # about ln(7) = 1.95 untrained
    assert result.best_val_loss < 0.1
    assert result.history[-1].train_loss < 0.1
    assert result.stopped == "finished"


def test_stop_flag_stops_within_one_step():
    m = model()
    stop = threading.Event()
    seen = []

    def on_progress(p):
        seen.append(p.step)
        stop.set()

    result = fit(m, lm_loss, counting_data(), None, TrainConfig(epochs=50, batch_size=8, eval_every=3),
                 on_progress=on_progress, stop=stop, device=torch.device("cpu"))
    assert result.stopped == "stop_flag"
    assert result.steps == 3 == seen[0]


def test_early_stopping_restores_best_weights():
    m = model()
    train = counting_data()
    # Validation asks for the opposite direction, so it gets worse as training succeeds.
    x, y = counting_data(16, seed=2).tensors
    val = TensorDataset(x, (x - 1) % V)
    result = fit(m, lm_loss, train, val, TrainConfig(epochs=40, batch_size=16, lr=1e-2, eval_every=2, patience=2),
                 device=torch.device("cpu"))
    assert result.stopped == "early_stop"
    assert result.best_step < result.steps
    assert abs(evaluate_loss(m, lm_loss, val, 16, torch.device("cpu")) - result.best_val_loss) < 1e-5


def test_max_steps_and_progress_fields():
    m = model()
    records = []
    result = fit(m, lm_loss, counting_data(), counting_data(8, seed=3),
                 TrainConfig(epochs=100, max_steps=5, batch_size=16, eval_every=2),
                 on_progress=records.append, device=torch.device("cpu"))
    assert result.steps == 5 and result.stopped == "max_steps"
    assert [p.step for p in records] == [2, 4, 5]
    assert all(p.total_steps == 5 and p.val_loss is not None and p.elapsed >= 0 for p in records)


def test_grad_norm_is_measured_with_clipping_off():
    records = []
    fit(model(), lm_loss, counting_data(), None, TrainConfig(epochs=1, batch_size=16, grad_clip=None, eval_every=2),
        on_progress=records.append, device=torch.device("cpu"))
    assert records and all(p.grad_norm is not None and p.grad_norm > 0 for p in records)
