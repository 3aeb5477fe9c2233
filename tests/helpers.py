"""Helpers several test files share: what a page said, its charts, a broken checkpoint, the CLI, test files.

Fixtures live in conftest.py; these are plain functions, imported by name (`from tests.helpers import said`).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import TensorDataset

from seqcore.models import RNNConfig, SequenceRNN

# ---------------------------------------------------------------- what an AppTest page shows


def messages(at, *, info: bool = False) -> list[str]:
    """Every st.error and st.warning on the page (and st.info with info=True), as text."""
    out = [e.value for e in at.error] + [w.value for w in at.warning]
    return out + [i.value for i in at.info] if info else out


def said(at, *words: str, info: bool = False) -> bool:
    """True when one error/warning (or info, with info=True) contains every word (case-insensitive)."""
    return any(all(w.lower() in m.lower() for w in words) for m in messages(at, info=info))


def charts(at) -> dict[str, dict]:
    """Plotly charts by element id, as their figure JSON."""
    return {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}


def chart(at, key: str) -> dict:
    """The first chart whose id contains KEY (widget keys are part of the id); fails when there is none."""
    found = [spec for cid, spec in charts(at).items() if key in cid]
    assert found, f"no chart {key}; have {list(charts(at))}"
    return found[0]


def trace_names(at, key: str) -> list[str]:
    return [t.get("name") for t in chart(at, key)["data"]]


# ---------------------------------------------------------------- broken checkpoints


def garble(folder: Path, name: str) -> bytes:
    """Truncate NAME's weights mid-header, as an interrupted copy would; returns the broken bytes."""
    weights = folder / f"{name}.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    return weights.read_bytes()


BREAKAGES = ("corrupt weights", "mismatched weights", "corrupt card", "missing weights")


def break_checkpoint(folder: Path, name: str, how: str, other: str = "") -> tuple[str, ...]:
    """Break checkpoint NAME in FOLDER one of the BREAKAGES ways; returns the phrases (one of them) a page must say.

    corrupt weights: truncated mid-header; mismatched weights: OTHER's weights in NAME's place; corrupt card:
    NAME.json is not JSON ("unreadable" too: the memory lab's shipped run is a results file, not a card);
    missing weights: NAME.safetensors is gone.
    """
    weights, card = folder / f"{name}.safetensors", folder / f"{name}.json"
    if how == "corrupt weights":
        garble(folder, name)
        return (f"{weights.name} is corrupt",)
    if how == "mismatched weights":
        shutil.copyfile(folder / f"{other}.safetensors", weights)
        return (f"{name} does not fit",)
    if how == "corrupt card":
        card.write_text("{not json")
        return (f"{card.name} is corrupt", f"{card.name} is unreadable")
    if how == "missing weights":
        weights.unlink()
        return (f"{weights.name} is missing",)
    raise ValueError(f"unknown breakage {how!r}; one of {BREAKAGES}")


# ---------------------------------------------------------------- the command line


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """The CLI in-process (no torch import per call): (exit code, stdout, stderr)."""
    from seqcore.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """The real `python -m seqcore` process: exit code, stdout and stderr as a user sees them."""
    return subprocess.run([sys.executable, "-m", "seqcore", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SEQCORE_THREADS": "1"})


# ---------------------------------------------------------------- files users upload


def image_bytes(img, fmt: str = "PNG") -> bytes:
    """A PIL image encoded as an upload would arrive (PNG unless FMT says otherwise)."""
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def csv_bytes(rows: list[str], header: str = "date,price") -> bytes:
    """A CSV upload: HEADER, then ROWS, one a line."""
    return (header + "\n" + "\n".join(rows) + "\n").encode()


# ---------------------------------------------------------------- a toy training problem (train, DDP, CUDA tests)

V = 7  # vocabulary of the counting task


def lm_loss(model, batch):
    """Next-token cross-entropy of a SequenceRNN LM."""
    x, y = batch
    logits, _ = model(x)
    return F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))


def counting_data(n=64, t=12, seed=0):
    """Next-token prediction on x_{t+1} = x_t + 1 (mod V): a deterministic toy sequence task."""
    g = torch.Generator().manual_seed(seed)
    start = torch.randint(0, V, (n, 1), generator=g)
    seq = (start + torch.arange(t + 1)) % V
    return TensorDataset(seq[:, :-1], seq[:, 1:])


def model():
    """A small LSTM LM for counting_data, seeded."""
    torch.manual_seed(0)
    return SequenceRNN(RNNConfig(cell="lstm", vocab_size=V, embed_dim=8, hidden_size=16, out_size=V))
