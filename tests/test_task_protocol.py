"""The task protocol (seqcore.tasks): every registered task trains, saves, loads, evaluates and is probed
the same way, and the CLI and the pages use nothing from seqcore.tasks but the declared surfaces."""

from __future__ import annotations

import ast
import importlib
import math
from pathlib import Path

import pytest
import torch

from seqcore.checkpoints import info_at
from seqcore.tasks import PROTOCOL, TASKS, missing, task_module
from seqcore.tasks.probe import AttentionProbe

ROOT = Path(__file__).resolve().parent.parent
# Not tasks, but part of what pages may use: the explorer's contract and its maths.
EXPLORER = ("seqcore.tasks.probe", "seqcore.tasks.attention_maths")


@pytest.mark.parametrize("task", TASKS)
def test_module_declares_the_protocol(task):
    module = task_module(task)
    assert missing(module) == [], f"{TASKS[task]} lacks {missing(module)}"
    assert task == module.TASK
    cfg = module.tiny_config()
    assert isinstance(cfg, module.Config)
    assert callable(getattr(cfg, "to_dict", None)), "a config must serialise into the model card"


def _numbers(d: dict) -> list[float]:
    out = []
    for v in d.values():
        if isinstance(v, dict):
            out += _numbers(v)
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out.append(float(v))
    return out


@pytest.mark.parametrize("task", TASKS)
def test_tiny_train_save_load_evaluate_probe(task, tmp_path):
    module = task_module(task)
    seen = []
    model, card = module.train(module.tiny_config(), on_progress=seen.append)
    assert seen, "train reports progress"
    assert card["task"] == task and card["arch"] and card["config"]
    path = module.save(model, card, f"{task}-conformance", out=tmp_path)
    info = info_at(Path(path).with_suffix(""))
    assert info.task == task
    loaded, loaded_card = module.load(info)
    assert loaded_card["task"] == task
    metrics = module.evaluate(loaded, limit=16)
    numbers = _numbers(metrics)
    assert numbers and all(math.isfinite(x) for x in numbers), metrics
    probe = module.attention_probe(info, None)
    assert isinstance(probe, AttentionProbe)
    with torch.no_grad():
        out = probe.model(probe.x, probe.context, return_attention=True)
    assert out.attentions and out.attentions[0].shape[-1] == len(probe.tokens)


# What `make models` ships; a missing file fails here, so the tests that use these models need no skip guards.
SHIPPED = {
    "forecast": {"forecast-goog-lstm", "forecast-goog-transformer"},
    "music": {"music-lstm", "music-transformer"},
    "sentiment": {"sentiment-lstm", "sentiment-transformer"},
    "caption": {f"caption-{d}-{s}" for d in ("lstm", "transformer") for s in ("shapes", "shapes-comp", "digits")},
    "attention": {"attention-char-transformer"},
    "memory": {"memory-transformer"},
    "translate": {"translate-rnn", "translate-transformer"},
}


@pytest.mark.parametrize("task", TASKS)
def test_shipped_checkpoints_are_there_and_load(task, tmp_path, monkeypatch):
    from seqcore.checkpoints import list_checkpoints

    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))  # no user models from other tests

    module = task_module(task)
    shipped = {c.name: c for c in list_checkpoints(task) if c.source == "shipped"}
    assert SHIPPED[task] <= set(shipped), f"missing shipped checkpoints: {SHIPPED[task] - set(shipped)}"
    for name in SHIPPED[task]:
        _, card = module.load(shipped[name])
        assert card["name"] == name and card.get("metrics"), f"{name}: its card has no held-out metrics"
    assert module.best_name() in shipped  # with no user models, the best is a shipped one


def _task_imports(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) for each name a file takes from seqcore.tasks, including T.attr uses of an alias."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found, aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seqcore.tasks"):
            for a in node.names:
                if node.module == "seqcore.tasks" and f"seqcore.tasks.{a.name}" in (*TASKS.values(), *EXPLORER):
                    aliases[a.asname or a.name] = f"seqcore.tasks.{a.name}"
                else:
                    found.append((node.module, a.name, node.lineno))
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("seqcore.tasks.") and a.asname:
                    aliases[a.asname] = a.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases:
            found.append((aliases[node.value.id], node.attr, node.lineno))
    return found


CALLERS = sorted([*ROOT.glob("pages/*.py"), ROOT / "app.py", *ROOT.glob("seqcore/commands/*.py"),
                  ROOT / "seqcore/cli.py"])


@pytest.mark.parametrize("path", CALLERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_callers_use_only_declared_surfaces(path):
    """Pages and commands take from seqcore.tasks only what a task (or the explorer) declares in __all__."""
    allowed = {*TASKS.values(), *EXPLORER, "seqcore.tasks"}
    for module_name, name, line in _task_imports(path):
        assert module_name in allowed, f"{path.name}:{line} imports {module_name}, which is not a task module"
        module = importlib.import_module(module_name)
        public = set(getattr(module, "__all__", ())) | ({"TASKS", "task_module", "PROTOCOL"}
                                                        if module_name == "seqcore.tasks" else set())
        assert name in public, f"{path.name}:{line} uses {module_name}.{name}, which is not in its __all__"


def test_protocol_names_are_documented():
    doc = importlib.import_module("seqcore.tasks").__doc__
    for name in PROTOCOL:
        assert name in doc
    assert (ROOT / "docs" / "adding-a-task.md").exists()
