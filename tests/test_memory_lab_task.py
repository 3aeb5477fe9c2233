"""Memory lab (seqcore.tasks.memory_*): the recall and parity tasks, each model's recipe, BPTT gradient norms, a
tiny fair race (both budgets, seeds), save/load, the CLI."""

import json
import math

import pytest
import torch
import torch.nn.functional as F

from seqcore.checkpoints import info_at
from seqcore.cli import main
from seqcore.errors import InputError
from seqcore.models import RNNConfig, SequenceRNN
from seqcore.tasks import memory_bptt as bptt
from seqcore.tasks import memory_lab as lab
from seqcore.tasks.memory_data import ParityTask, RecallTask, make_batch, make_task, parse_distances, task_from_dict
from seqcore.tasks.memory_models import RECIPES, ModelSpec, Recipe, build_model, first_below, last_logits


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


def test_parity_examples_hold_a_stream_of_bits_and_its_parity():
    task = ParityTask(max_distance=12)
    x, y, d = make_batch(task, 300, [0, 3, 12], seed=4)
    assert x.shape == (300, 13) and set(d.tolist()) == {0, 3, 12} and task.chance == 0.5
    for row, target, dist in zip(x, y, d, strict=True):
        assert row[-1] == task.query_id
        stream, filler = row[len(row) - 1 - int(dist): -1], row[: len(row) - 1 - int(dist)]
        assert (filler == 2).all() and (stream <= 1).all()
        assert int(stream.sum()) % 2 == int(target)
    assert 0.4 < y[d == 12].float().mean() < 0.6  # both answers at the longest distance
    assert task_from_dict(task.to_dict()) == task and task_from_dict(RecallTask().to_dict()) == RecallTask()
    assert task_from_dict({"max_distance": 9}) == RecallTask(max_distance=9)  # older cards have no kind
    with pytest.raises(InputError, match="recall, parity"):
        make_task("copy", 10)


def test_the_transformer_answer_path_matches_its_full_forward():
    """last_logits computes the Transformer's last block for the last query only: the same logits, less work."""
    for task in (RecallTask(max_distance=20), ParityTask(max_distance=20)):
        model = build_model("transformer", task).eval()
        x, _, _ = make_batch(task, 16, None, seed=1)
        torch.testing.assert_close(last_logits(model, x), model(x).y[:, -1], rtol=1e-5, atol=1e-6)


def test_each_model_has_its_own_recipe_from_the_sweep():
    """The per-model settings the fair race trains with (bench/memory_lab.py --sweep chose them; BENCHMARKS.md
    lists the grid): a change here must come with a new sweep and a rebuilt shipped race."""
    picked = {
        "recall": {"rnn": Recipe(lr=1e-2, warmup_frac=0.1), "lstm": Recipe(lr=1e-2, warmup_frac=0.1),
                   "transformer": Recipe(lr=3e-3, warmup_frac=0.1)},
        "parity": {"rnn": Recipe(lr=1e-3, warmup_frac=0.02), "lstm": Recipe(lr=1e-3, warmup_frac=0.1),
                   "transformer": Recipe(lr=3e-3, warmup_frac=0.02)},
    }
    assert picked == RECIPES
    assert ModelSpec() == ModelSpec(rnn_hidden=64, lstm_hidden=64, embed_dim=16, d_model=32, n_heads=4, n_layers=2,
                                    d_ff=64)
    cfg = lab.LabConfig(kind="parity", recipes={"lstm": {"lr": 0.01, "warmup_frac": 0.1}})
    assert cfg.recipes["lstm"] == {"lr": 0.01, "warmup_frac": 0.1}  # an override
    assert cfg.recipes["transformer"] == RECIPES["parity"]["transformer"].to_dict()  # the rest: the sweep's
    with pytest.raises(InputError, match="recipe"):
        lab.LabConfig(recipes={"rnn": {"lr": 0}})
    with pytest.raises(InputError, match="unknown model sizes"):
        lab.LabConfig(spec={"width": 3})


def test_the_shipped_races_were_trained_with_these_recipes():
    shipped = lab.shipped_results()
    assert set(shipped) == set(lab.KINDS)
    for kind, results in shipped.items():
        assert results["kind"] == kind and results["config"]["recipes"] == {
            a: r.to_dict() for a, r in RECIPES[kind].items()}
        assert results["config"]["spec"] == ModelSpec().to_dict()
        assert len(results["seeds"]) >= 3 and set(results["views"]) == {"steps", "seconds"}
        for run in results["runs"]:
            for arch, m in run["models"].items():
                assert m["recipe"] == RECIPES[kind][arch].to_dict()
                if run["budget"] == "steps":
                    assert m["train"]["steps"] == results["budgets"]["steps"]["steps"], (kind, arch, run["seed"])


def test_parse_distances_and_bad_input():
    assert parse_distances("50, 5,10,5") == [5, 10, 50]
    for bad in ("", "5,ten", "-1", "999"):
        with pytest.raises(InputError):
            parse_distances(bad)
    with pytest.raises(InputError):
        lab.LabConfig(archs=("gru",))
    with pytest.raises(InputError):
        lab.LabConfig(seconds=0)
    with pytest.raises(InputError, match="budgets"):
        lab.LabConfig(budgets=("epochs",))
    with pytest.raises(InputError, match="seeds"):
        lab.LabConfig(seeds=(1, 1))
    with pytest.raises(InputError, match="steps per model"):
        lab.LabConfig(steps=0)


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
    assert set(models) == set(lab.ARCHS) == set(results["grad_norms"])
    assert results["chance"] == pytest.approx(1 / 8) and results["kind"] == "recall"
    assert results["command"] == lab.tiny_config().command_line()
    assert [(r["budget"], r["seed"]) for r in results["runs"]] == [("steps", 0), ("seconds", 0)]
    for run in results["runs"]:
        assert set(run["models"]) == set(lab.ARCHS)
        for arch, m in run["models"].items():
            assert len(m["accuracy"]) == 2 and all(0 <= a <= 1 for a in m["accuracy"])
            assert m["recipe"] == RECIPES["recall"][arch].to_dict()
            assert m["train"]["stopped"] in {"finished", "max_steps", "time_budget"}
            if run["budget"] == "steps":  # equal steps: every model takes exactly cfg.steps
                assert m["train"]["steps"] == lab.tiny_config().steps
            else:  # bounded by its budgets (steps planned from the measured speed, and cfg.seconds)
                assert 0 < m["train"]["steps"] <= m["train"]["planned_steps"]
    for g in results["grad_norms"].values():
        assert len(g["trained"]) == len(g["init"]) == results["task_config"]["seq_len"]
    view = results["views"]["steps"]["lstm"]
    acc = results["runs"][0]["models"]["lstm"]["accuracy"]
    assert view["seeds"] == 1 and view["mean"] == view["min"] == view["max"] == acc and view["std"] == [0, 0]
    assert set(results["clipping"]["runs"]) == {"on", "off"}
    assert results["clipping"]["runs"]["off"]["grad_clip"] is None
    assert all(math.isfinite(p.elapsed) and p.elapsed >= 0 for p in seen)
    steps = [p.step for p in seen]
    assert steps == sorted(steps) and {p.model for p in seen} >= set(lab.ARCHS)
    assert {p.budget for p in seen if p.model in lab.ARCHS} == {"steps", "seconds"}
    assert all(p.total_steps == seen[0].total_steps for p in seen)
    # the card is the first run's Transformer, with its held-out figures
    first = results["runs"][0]["models"]["transformer"]
    assert card["config"] == first["config"] and card["config"]["n_heads"] == 4
    assert card["metrics"]["accuracy"] == dict(zip(["2", "6"], first["accuracy"], strict=True))
    assert card["metrics"]["mean_accuracy"] == pytest.approx(sum(first["accuracy"]) / 2)
    # evaluate scores every model the same way the race did
    got = lab.evaluate(result, limit=lab.tiny_config().n_eval)
    assert {a: list(acc.values()) for a, acc in got["accuracy"].items()} == {
        a: m["accuracy"] for a, m in results["runs"][0]["models"].items()}
    rows = lab.summary(results)
    assert [(r["race"], r["model"]) for r in rows] == [(lab.BUDGETS[b], a) for b in ("steps", "seconds")
                                                       for a in lab.ARCHS]


def test_views_average_the_seeds():
    runs = [{"budget": "steps", "seed": s, "models": {"rnn": {
        "accuracy": acc, "train": {"steps": 10, "seconds": sec}, "params": 5, "recipe": {}}}}
        for s, acc, sec in ((0, [1.0, 0.8], 2.0), (1, [0.9, 0.6], 4.0), (2, [0.8, 0.7], 3.0))]
    v = lab.views(runs, [5, 10])["steps"]["rnn"]
    assert v["seeds"] == 3 and v["mean"] == [0.9, 0.7] and v["min"] == [0.8, 0.6] and v["max"] == [1.0, 0.8]
    assert v["std"] == [pytest.approx(0.0816, abs=1e-4)] * 2 and v["seconds"] == 3.0 and v["below_90"] == 10


def test_a_parity_race_with_two_seeds():
    cfg = lab.LabConfig(kind="parity", distances=(3, 8), budgets=("steps",), steps=6, seeds=(4, 5),
                        archs=("lstm", "transformer"), n_train=128, n_val=32, n_eval=20, clip_seconds=0)
    result, card = lab.train(cfg)
    results = result.results
    assert results["chance"] == 0.5 and results["task_config"]["kind"] == "parity"
    assert [r["seed"] for r in results["runs"]] == [4, 5] and results["clipping"] is None
    assert results["views"]["steps"]["lstm"]["seeds"] == 2 and "seconds" not in results["views"]
    assert "cue" not in json.dumps(results["grad_norms"])
    assert card["data"]["held_out_seed"] == 4 + 10_000 and result.eval_seed == 4 + 10_000


def test_stop_flag_ends_the_run_early():
    import threading

    stop = threading.Event()
    stop.set()
    cfg = lab.LabConfig(distances=(2,), seconds=5, n_train=128, n_val=32, n_eval=20)
    result, card = lab.train(cfg, stop=stop)
    results = result.results
    assert results["stopped"] and results["runs"] == [] and results["views"] == {} and results["clipping"] is None
    assert result.models == {} and card["config"] == {}
    with pytest.raises(InputError, match="no Transformer"):
        lab.save(result, card, out="unused")


def test_page_config_picks_the_distances_and_says_what_is_wrong():
    cfg = lab.page_config(50, ["seconds"], 300, 20, 0, ["rnn", "lstm"])
    assert cfg.distances == (5, 10, 20, 50) and cfg.archs == ("rnn", "lstm") and cfg.seconds == 20.0
    assert cfg.budgets == ("seconds",) and cfg.seeds == (0,) and cfg.kind == "recall"
    assert cfg.clip_seconds == lab.PAGE_CLIP_SECONDS and cfg.wall_limit == lab.PAGE_WALL_LIMIT
    assert cfg.command_line() == ("seqcore memory-lab --task recall --distances 5,10,20,50 --budgets seconds "
                                  f"--steps 300 --seconds 20 --seeds 0 --models rnn,lstm --clip-seconds "
                                  f"{lab.PAGE_CLIP_SECONDS:g}")
    both = lab.page_config(30, ["seconds", "steps"], 300, 5, 1, ["rnn"], "3, 7", clip=False, kind="parity")
    assert both.distances == (3, 7, 30) and both.steps == 300 and both.budgets == ("steps", "seconds")
    assert both.kind == "parity" and both.seeds == (1,) and both.clip_seconds == 0
    assert lab.default_distances(5) == [5]
    with pytest.raises(InputError, match="at least one model"):
        lab.page_config(50, ["steps"], 200, 5, 0, [])
    with pytest.raises(InputError, match="between 0 and 30"):
        lab.page_config(30, ["steps"], 200, 5, 0, ["rnn"], "40")
    with pytest.raises(InputError, match="at least one race"):
        lab.page_config(30, [], 200, 5, 0, ["rnn"])


def test_the_shipped_transformer_loads_and_evaluate_repeats_its_card():
    model, card = lab.load()  # None: the best by mean held-out accuracy
    assert card["name"] == lab.best_name() == lab.CHECKPOINT
    assert set(model.models) == {"transformer"} and not model.models["transformer"].training
    assert model.task == RecallTask(max_distance=100) and model.distances == (5, 10, 20, 50, 100)
    shipped = lab.shipped_results()["recall"]
    first = lab.first_run(shipped)["transformer"]
    assert card["config"] == first["config"] and list(card["metrics"]["accuracy"].values()) == first["accuracy"]
    got = lab.evaluate(model)  # 500 per distance with the race's held-out seed, as the card was scored
    for d, acc in card["metrics"]["accuracy"].items():
        assert got["accuracy"]["transformer"][d] == pytest.approx(acc, abs=0.004), d
    assert got["chance"] == card["metrics"]["chance"]


def test_cli_prints_accuracy_per_model_and_distance(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(lab.LabConfig, "__init__", _small_defaults(lab.LabConfig.__init__))
    out = tmp_path / "lab.json"
    code = main(["memory-lab", "--distances", "3,1", "--steps", "5", "--seconds", "0.3", "--clip-seconds", "0",
                 "--seeds", "0,1", "--models", "rnn,transformer", "--out", str(out), "--save-transformer",
                 str(tmp_path)])
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["distances"] == [1, 3] and summary["seeds"] == [0, 1] and summary["kind"] == "recall"
    assert set(summary["steps"]) == set(summary["seconds"]) == {"rnn", "transformer"}
    assert set(summary["steps"]["rnn"]["accuracy"]) == {"1", "3"} and summary["steps"]["rnn"]["steps"] == 5
    assert summary["steps"]["transformer"]["recipe"] == RECIPES["recall"]["transformer"].to_dict()
    full = json.loads(out.read_text())
    assert full["command"].startswith("seqcore memory-lab --task recall --distances 3,1 --budgets steps,seconds "
                                      "--steps 5 --seconds 0.3 --seeds 0,1")
    assert full["clipping"] is None
    # the saved Transformer loads, and opens in the attention explorer's probe
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
    (["--steps", "0"], "steps per model"),
    (["--budgets", "epochs"], "budgets must be chosen"),
    (["--seeds", "0,x"], "seeds must be whole numbers"),
    (["--task", "copy"], "task must be one of"),
])
def test_cli_bad_input_exits_2_with_message(argv, message, capsys):
    assert main(["memory-lab", *argv]) == 2
    err = capsys.readouterr()
    assert message in err.err and err.out == ""


def test_train_memory_writes_results_and_checkpoint_into_a_folder(tmp_path, capsys, monkeypatch):
    from seqcore.cli import build_parser
    from seqcore.commands import memory_lab as cmd

    for argv in cmd.SHIPPED:  # what `make models` runs parses, with three seeds of both tasks and budgets
        ns = build_parser().parse_args(["train", "memory", *argv])
        assert ns.seeds == "0,1,2" and ns.tasks == "recall,parity" and ns.budgets == "steps,seconds"
    monkeypatch.setattr(lab.LabConfig, "__init__", _small_defaults(lab.LabConfig.__init__))
    assert main(["train", "memory", "--out", str(tmp_path / "new"), "--steps", "3", "--seconds", "0.2",
                 "--clip-seconds", "0", "--distances", "2", "--models", "transformer", "--seeds", "0"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["recall"]["steps"]["transformer"]["accuracy"]["2"] >= 0 and "parity" in out
    races = json.loads((tmp_path / "new" / "memory_lab_default.json").read_text())
    assert set(races) == {"recall", "parity"} and races["parity"]["chance"] == 0.5
    assert races["recall"]["command"].startswith("seqcore train memory --tasks recall,parity")
    _, card = lab.load(info_at(tmp_path / "new" / lab.CHECKPOINT))
    assert card["data"]["task"]["kind"] == "recall"


@pytest.mark.slow
def test_lstm_learns_recall_well_above_chance():
    """Train to a result (pytest -m slow): 60 s of LSTM training recalls across 20 distractors."""
    cfg = lab.LabConfig(archs=("lstm",), distances=(5, 20), budgets=("seconds",), seconds=60, clip_seconds=0)
    acc = lab.train(cfg)[0].results["runs"][0]["models"]["lstm"]["accuracy"]
    assert min(acc) >= 0.9, acc  # chance is 0.125
