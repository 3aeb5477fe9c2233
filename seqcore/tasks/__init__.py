"""One module per task, every one with the same surface: the task protocol.

A task module (registered in TASKS below) defines

    TASK                                   the `task` field of its checkpoints' model cards
    Config                                 its config dataclass: architecture, sizes, data and training run
    tiny_config() -> Config                a config that trains in seconds (smoke and conformance tests)
    build(cfg) -> model                    an untrained model
    train(cfg, *, on_progress=None, stop=None, device=None) -> (model, card)
                                           seqcore.train.fit underneath: progress records, a stop Event
    save(model, card, name=None, out=None) -> Path     NAME.safetensors + NAME.json (default: user dir)
    load(name_or_info=None) -> (model, card)           None: the best model on held-out data (its card says)
    best_name() -> str                     that best model's checkpoint name
    evaluate(model, **options) -> dict     held-out metrics, the same ones the model card stores
    attention_probe(info, text) -> AttentionProbe      the attention explorer's view (Transformer tasks)

"model" is whatever the task runs: a Translator, a CharLM, a SentimentModel... `__all__` lists the protocol
names plus the task's own operations (music's `generate`, sentiment's `predict`); the CLI and the pages use
nothing else from seqcore.tasks (tests/test_task_protocol.py checks both the surface and their imports).
docs/adding-a-task.md walks through adding one.
"""

from __future__ import annotations

import importlib
from types import ModuleType

PROTOCOL = ("TASK", "Config", "tiny_config", "build", "train", "save", "load", "best_name", "evaluate",
            "attention_probe")

# card["task"] -> the module that owns that task's models.
TASKS = {
    "forecast": "seqcore.tasks.forecasting",
    "music": "seqcore.tasks.music",
    "sentiment": "seqcore.tasks.sentiment",
    "caption": "seqcore.tasks.captioning",
    "attention": "seqcore.tasks.attention",
    "memory": "seqcore.tasks.memory_lab",
    "translate": "seqcore.tasks.translation",
}


def task_module(task: str) -> ModuleType:
    """The module of a registered task (KeyError names the known ones)."""
    if task not in TASKS:
        raise KeyError(f"unknown task {task!r}; known: {', '.join(TASKS)}")
    return importlib.import_module(TASKS[task])


def missing(module: ModuleType) -> list[str]:
    """Protocol names a task module lacks, or leaves out of its __all__ (empty when it conforms)."""
    public = set(getattr(module, "__all__", ()))
    return [n for n in PROTOCOL if not hasattr(module, n) or n not in public]
