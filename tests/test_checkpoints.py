"""Checkpoints round-trip bit-exactly; corrupt and mismatched ones raise CheckpointError."""

import json

import pytest
import torch

from seqcore.checkpoints import (
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    make_card,
    save_checkpoint,
)
from seqcore.errors import CheckpointError
from seqcore.models import Transformer, TransformerConfig


def model(d=16):
    torch.manual_seed(0)
    return Transformer(TransformerConfig(d_model=d, n_heads=2, n_layers=1, vocab_size=9, out_size=9))


def card():
    return make_card("toy", "transformer", {"d_model": 16}, metrics={"val_loss": 1.23})


def test_round_trip_is_bit_exact(tmp_path):
    m = model()
    save_checkpoint(m, card(), tmp_path / "toy-transformer")
    state, c = load_checkpoint(tmp_path / "toy-transformer")
    m2 = model()
    for p in m2.parameters():
        torch.nn.init.zeros_(p)
    load_weights(m2, state)
    for k, v in m.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k]), k
    assert c["task"] == "toy" and c["metrics"]["val_loss"] == 1.23 and c["name"] == "toy-transformer"
    assert c["command"].startswith("seqcore") and c["created"]


def test_half_precision_storage(tmp_path):
    m = model()
    save_checkpoint(m, card(), tmp_path / "half", half=True)
    state, c = load_checkpoint(tmp_path / "half")
    assert c["dtype"] == "float16" and all(v.dtype == torch.float16 for v in state.values())
    m2 = model()
    load_weights(m2, state)
    assert next(m2.parameters()).dtype == torch.float32
    x = torch.randint(0, 9, (1, 5))
    torch.testing.assert_close(m2(x).y, m(x).y, atol=2e-2, rtol=2e-2)


def test_corrupt_weights_raise_checkpoint_error(tmp_path):
    save_checkpoint(model(), card(), tmp_path / "bad")
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "bad")


def test_corrupt_card_raises_checkpoint_error(tmp_path):
    save_checkpoint(model(), card(), tmp_path / "bad")
    (tmp_path / "bad.json").write_text("{oops")
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "bad")


def test_mismatched_model_raises_checkpoint_error(tmp_path):
    save_checkpoint(model(16), card(), tmp_path / "small")
    state, _ = load_checkpoint(tmp_path / "small")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_weights(model(32), state, "small")


def test_registry_lists_user_checkpoints(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))
    monkeypatch.setenv("SEQCORE_SHIPPED_DIR", str(tmp_path / "none"))
    from seqcore.checkpoints import user_dir

    save_checkpoint(model(), card(), user_dir() / "mine")
    (user_dir() / "orphan.json").write_text(json.dumps({"task": "toy"}))  # no weights: ignored
    infos = list_checkpoints("toy")
    assert [(i.name, i.source) for i in infos] == [("mine", "user")]
    assert find_checkpoint("mine").card["arch"] == "transformer"
    with pytest.raises(CheckpointError, match="no checkpoint named"):
        find_checkpoint("nope")


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", "x" * 200])
def test_unsafe_names_are_refused(tmp_path, name):
    with pytest.raises(CheckpointError, match="invalid checkpoint name"):
        find_checkpoint(name)
