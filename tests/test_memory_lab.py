"""Memory lab (seqcore.tasks.memory_*): the recall task, BPTT gradient norms, a tiny race, save/load, the CLI."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from seqcore.cli import main
from seqcore.errors import InputError
from seqcore.models import RNNConfig, SequenceRNN
from seqcore.tasks import memory_bptt as bptt
from seqcore.tasks import memory_lab as lab
from seqcore.tasks.memory_data import RecallTask, make_batch, parse_distances
from seqcore.tasks.memory_models import build_model, first_below


def test_recall_examples_place_cue_distance_and_query():
    task = RecallTask(max_distance=30, n_pairs=2)
    x, y, d = make_batch(task, 200, [0, 7, 30], seed=3)
    assert x.shape == (200, task.seq_len) and y.shape == (200,) and x.dtype == torch.int64
    assert set(d.tolist()) == {0, 7, 30}
    k, v = task.n_keys, task.n_values
    for row, target, dist in zip(x, y, d, strict=True):
        assert row[-2] == task.query_id and (row[:-2] != task.query_id).all()
        query = int(row[-1])
        assert 0 <= query < k
        start = task.seq_len - 2 - int(dist) - 2 * task.n_pairs
        pairs = row[start: start + 2 * task.n_pairs].view(-1, 2)
        assert (pairs[:, 0] < k).all() and ((pairs[:, 1] >= k) & (pairs[:, 1] < k + v)).all()
        assert len(set(pairs[:, 0].tolist())) == task.n_pairs  # distinct keys: the query is unambiguous
        # the answer is the value right after the queried key; keys occur nowhere else
        assert int(pairs[pairs[:, 0] == query][0, 1]) - k == int(target)
        others = torch.cat([row[:start], row[start + 2 * task.n_pairs: -2]])
        assert (others >= k).all()
    noise = x[:, :-2][x[:, :-2] >= k]
    assert ((noise >= k) & (noise < k + v)).any()  # values also appear as distractors: no shortcut


def test_held_out_seed_gives_other_examples_and_training_spans_all_distances():
    task = RecallTask(max_distance=100)
    a, _, _ = make_batch(task, 50, 20, seed=0)
    b, _, _ = make_batch(task, 50, 20, seed=1)
    assert not torch.equal(a, b)
    assert torch.equal(a, make_batch(task, 50, 20, seed=0)[0])  # reproducible
    _, _, d = make_batch(task, 4000, None, seed=0)
    assert d.min() == 0 and d.max() >= 90
    assert 0.3 < (d < 10).float().mean() < 0.7  # log-uniform: short recalls are common


def test_parse_distances_and_bad_input():
    assert parse_distances("50, 5,10,5") == [5, 10, 50]
    for bad in ("", "5,ten", "-1", "999"):
        with pytest.raises(InputError):
            parse_distances(bad)
    with pytest.raises(InputError):
        lab.LabConfig(archs=("gru",))
    with pytest.raises(InputError):
        lab.LabConfig(seconds=0)


def test_first_below_threshold():
    assert first_below([5, 10, 20], [1.0, 0.95, 0.5]) == 20
    assert first_below([5, 10], [0.99, 0.91]) is None


def _tiny_rnn(task, cell="rnn"):
    torch.manual_seed(0)
    return SequenceRNN(RNNConfig(cell=cell, vocab_size=task.vocab_size, embed_dim=5, hidden_size=7,
                                 out_size=task.n_values))


def test_input_grad_norms_match_autograd_and_hand_written_bptt():
    task = RecallTask(max_distance=12)
    x, y, _ = make_batch(task, 6, [3, 12], seed=2)
    model = _tiny_rnn(task)
    norms = bptt.input_grad_norms(model, x, y)
    # direct autograd: feed the embeddings in as a leaf and differentiate the summed loss
    e = model.embed(x).detach().requires_grad_(True)
    out, _ = model.rnn(e)
    loss = F.cross_entropy(model.head(out[:, -1]), y, reduction="sum")
    (g,) = torch.autograd.grad(loss, e)
    expected = g.norm(dim=-1).mean(dim=0)
    assert norms.shape == (task.seq_len,)
    torch.testing.assert_close(norms, expected, rtol=1e-5, atol=1e-9)
    torch.testing.assert_close(bptt.rnn_bptt_grad_norms(model, x, y), expected, rtol=1e-4, atol=1e-9)


def test_input_grad_norms_work_for_lstm_and_transformer():
    task = RecallTask(max_distance=6)
    x, y, _ = make_batch(task, 4, 6, seed=0)
    for arch in ("lstm", "transformer"):
        model = build_model(arch, task).eval()
        norms = bptt.input_grad_norms(model, x, y)
        assert norms.shape == (task.seq_len,) and (norms >= 0).all() and norms[-1] > 0
        assert not model.training  # restored
        assert all(p.grad is None for p in model.parameters())  # parameters untouched


def test_vanilla_rnn_gradient_vanishes_with_distance_at_init():
    task = RecallTask(max_distance=60)
    x, y, _ = make_batch(task, 16, 60, seed=0)
    norms = bptt.input_grad_norms(build_model("rnn", task), x, y)
    assert norms[-1] > 1e3 * norms[1]  # the cue (position 1) barely reaches the loss


def test_tiny_run_is_json_and_complete():
    seen = []
    result, card = lab.train(lab.tiny_config(), on_progress=seen.append)
    results, models = result.results, result.models
    json.dumps(results, allow_nan=False)  # strict JSON
    assert set(results["models"]) == set(lab.ARCHS) == set(models)
    assert results["chance"] == pytest.approx(1 / 8)
    assert results["command"] == lab.tiny_config().command_line()
    for m in results["models"].values():
        assert len(m["accuracy"]) == 2 and all(0 <= a <= 1 for a in m["accuracy"])
        assert len(m["grad_norms"]["trained"]) == results["task_config"]["seq_len"]
        # bounded by its budgets (steps planned from the measured speed, and cfg.seconds): how fast is bench/'s job
        assert 0 < m["train"]["steps"] <= m["train"]["planned_steps"]
        assert m["train"]["stopped"] in {"finished", "max_steps", "time_budget"}
    assert set(results["clipping"]["runs"]) == {"on", "off"}
    assert results["clipping"]["runs"]["off"]["grad_clip"] is None
    assert all(math.isfinite(p.elapsed) and p.elapsed >= 0 for p in seen)
    steps = [p.step for p in seen]
    assert steps == sorted(steps) and {p.model for p in seen} >= set(lab.ARCHS)
    assert all(p.total_steps == seen[0].total_steps for p in seen)
    # the card is the Transformer's, with the race's held-out figures
    assert card["config"] == results["models"]["transformer"]["config"]
    assert card["metrics"]["accuracy"] == dict(zip(["2", "6"], results["models"]["transformer"]["accuracy"],
                                                   strict=True))
    assert card["metrics"]["mean_accuracy"] == pytest.approx(sum(results["models"]["transformer"]["accuracy"]) / 2)
    # evaluate scores every model the same way the race did
    got = lab.evaluate(result, limit=lab.tiny_config().n_eval)
    assert {a: list(acc.values()) for a, acc in got["accuracy"].items()} == {
        a: m["accuracy"] for a, m in results["models"].items()}


def test_stop_flag_ends_the_run_early():
    import threading

    stop = threading.Event()
    stop.set()
    cfg = lab.LabConfig(distances=(2,), seconds=5, n_train=128, n_val=32, n_eval=20)
    result, card = lab.train(cfg, stop=stop)
    results = result.results
    assert results["stopped"] and results["models"] == {} and results["clipping"] is None
    assert result.models == {} and card["config"] == {}
    with pytest.raises(InputError, match="no Transformer"):
        lab.save(result, card, out="unused")


def test_page_config_picks_the_distances_and_says_what_is_wrong():
    cfg = lab.page_config(50, 20, 0, ["rnn", "lstm"])
    assert cfg.distances == (5, 10, 20, 50) and cfg.archs == ("rnn", "lstm") and cfg.seconds == 20.0
    assert cfg.clip_seconds == lab.PAGE_CLIP_SECONDS
    assert cfg.command_line() == ("seqcore memory-lab --distances 5,10,20,50 --seconds 20 --seed 0 --models rnn,lstm "
                                  f"--clip-seconds {lab.PAGE_CLIP_SECONDS:g}")
    assert lab.page_config(30, 5, 1, ["rnn"], "3, 7", clip=False).distances == (3, 7, 30)
    assert lab.default_distances(5) == [5]
    with pytest.raises(InputError, match="at least one model"):
        lab.page_config(50, 20, 0, [])
    with pytest.raises(InputError, match="between 0 and 30"):
        lab.page_config(30, 20, 0, ["rnn"], "40")


def test_the_shipped_transformer_loads_and_evaluate_repeats_its_card():
    model, card = lab.load()  # None: the best by mean held-out accuracy
    assert card["name"] == lab.best_name() == lab.CHECKPOINT
    assert set(model.models) == {"transformer"} and not model.models["transformer"].training
    assert model.task == RecallTask(max_distance=100) and model.distances == (5, 10, 20, 50, 100)
    got = lab.evaluate(model)  # 500 per distance with the race's held-out seed, as the card was scored
    for d, acc in card["metrics"]["accuracy"].items():
        assert got["accuracy"]["transformer"][d] == pytest.approx(acc, abs=0.004), d
    assert got["chance"] == card["metrics"]["chance"]


def test_cli_prints_accuracy_per_model_and_distance(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(lab.LabConfig, "__init__", _small_defaults(lab.LabConfig.__init__))
    out = tmp_path / "lab.json"
    code = main(["memory-lab", "--distances", "3,1", "--seconds", "0.3", "--clip-seconds", "0",
                 "--models", "rnn,transformer", "--out", str(out), "--save-transformer", str(tmp_path)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["distances"] == [1, 3]
    assert set(summary["accuracy"]) == {"rnn", "transformer"}
    assert set(summary["accuracy"]["rnn"]) == {"1", "3"}
    full = json.loads(out.read_text())
    assert full["command"].startswith("seqcore memory-lab --distances 3,1 --seconds 0.3")
    assert full["clipping"] is None
    # the saved Transformer loads, and opens in the attention explorer's probe
    from seqcore.checkpoints import info_at

    info = info_at(tmp_path / lab.CHECKPOINT)
    loaded, card = lab.load(info)
    assert loaded.distances == (1, 3) and card["command"] == full["command"]
    assert set(lab.evaluate(loaded, limit=20)["accuracy"]["transformer"]) == {"1", "3"}
    probe = lab.attention_probe(info, "A 3 a b ? A")
    y = probe.model(probe.x, return_attention=True)
    assert probe.tokens == ["A", "3", "a", "b", "?", "A"] and y.attentions[0].shape[-1] == 6
    assert lab.attention_probe(info, None).x.shape[1] > 2
    with pytest.raises(InputError):
        lab.attention_probe(info, "A 3 Z")


def _small_defaults(init):
    def wrapped(self, *args, **kwargs):
        kwargs.setdefault("n_train", 256)
        kwargs.setdefault("n_val", 64)
        kwargs.setdefault("n_eval", 40)
        init(self, *args, **kwargs)

    return wrapped


@pytest.mark.parametrize("argv, message", [
    (["--distances", "5,x"], "whole numbers"),
    (["--distances", "500"], "between 0 and"),
    (["--models", "rnn,gru"], "models must be chosen"),
    (["--seconds", "0"], "seconds per model"),
])
def test_cli_bad_input_exits_2_with_message(argv, message, capsys):
    assert main(["memory-lab", *argv]) == 2
    err = capsys.readouterr()
    assert message in err.err and err.out == ""


def test_train_memory_writes_results_and_checkpoint_into_a_folder(tmp_path, capsys, monkeypatch):
    from seqcore.cli import build_parser
    from seqcore.commands import memory_lab as cmd

    for argv in cmd.SHIPPED:  # what `make models` runs parses
        assert build_parser().parse_args(["train", "memory", *argv]).seconds > 0
    monkeypatch.setattr(lab.LabConfig, "__init__", _small_defaults(lab.LabConfig.__init__))
    assert main(["train", "memory", "--out", str(tmp_path / "new"), "--seconds", "0.2", "--clip-seconds", "0",
                 "--distances", "2", "--models", "transformer"]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"]["transformer"]["2"] >= 0
    assert (tmp_path / "new" / "memory_lab_default.json").exists()
    assert (tmp_path / "new" / f"{lab.CHECKPOINT}.safetensors").exists()


@pytest.mark.slow
def test_lstm_learns_recall_well_above_chance():
    """Train to a result (pytest -m slow): 60 s of LSTM training recalls across 20 distractors."""
    cfg = lab.LabConfig(archs=("lstm",), distances=(5, 20), seconds=60, clip_seconds=0)
    acc = lab.train(cfg)[0].results["models"]["lstm"]["accuracy"]
    assert min(acc) >= 0.9, acc  # chance is 0.125
