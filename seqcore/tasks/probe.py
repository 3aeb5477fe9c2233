"""The contract between the attention explorer and every task that ships a Transformer.

Every task module (seqcore.tasks.TASKS) defines, as part of the task protocol,

    def attention_probe(info: CheckpointInfo, text: str | None) -> AttentionProbe

which loads that checkpoint and prepares one input, so the explorer can run
`probe.model(probe.x, probe.context, return_attention=True)` and step through any layer and head
without knowing the task. `text` is the user's input (None: the task picks a typical example).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import torch

from seqcore.checkpoints import CheckpointInfo
from seqcore.errors import SeqcoreError
from seqcore.models.transformer import Transformer
from seqcore.tasks import TASKS as TASK_MODULES  # card["task"] -> module (the one registry)

__all__ = ["AttentionProbe", "probe_for", "transformer_checkpoints"]


@dataclass
class AttentionProbe:
    model: Transformer                    # the seqcore Transformer itself (not a wrapper), in eval mode
    x: torch.Tensor                       # (1, T) token ids or (1, T, F) features, what model(x) takes
    tokens: list[str]                     # T labels for the query/key axis
    context: torch.Tensor | None = None   # (1, T_ctx, d_model) for cross-attention, else None
    context_tokens: list[str] | None = None  # T_ctx labels (e.g. image grid cells)
    special: list[bool] | None = None     # T flags: special/padding tokens the explorer can hide
    note: str = ""                        # one line shown beside the input (e.g. truncation)


def probe_for(info: CheckpointInfo, text: str | None = None) -> AttentionProbe:
    """The probe for a registry entry, through its task module's attention_probe."""
    module_name = TASK_MODULES.get(info.task)
    if module_name is None:
        raise SeqcoreError(f"no attention explorer support for task {info.task!r}")
    module = importlib.import_module(module_name)
    if not hasattr(module, "attention_probe"):
        raise SeqcoreError(f"task {info.task!r} has no Transformer the explorer can open")
    return module.attention_probe(info, text)


def transformer_checkpoints() -> list[CheckpointInfo]:
    """Registry entries whose task module can be probed and whose model is a Transformer."""
    from seqcore.checkpoints import list_checkpoints

    return [c for c in list_checkpoints() if c.task in TASK_MODULES and "transformer" in c.arch]
