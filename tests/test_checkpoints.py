"""Checkpoints round-trip bit-exactly; corrupt and mismatched ones raise CheckpointError."""

import json
import os
import time
from pathlib import Path

import pytest
import torch

from seqcore.checkpoints import (
    Quota,
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


# ---------------------------------------------------------------- kept models: quota, oldest-first removal, deletion

def save_toy(m, card_, name, out=None):
    """A task's protocol save, for the toy model: NAME in `out` (default: the user checkpoint dir)."""
    from seqcore.checkpoints import user_dir

    return save_checkpoint(m, card_, Path(out or user_dir()) / name)


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An empty user registry and shipped dir (one shipped checkpoint, 'shipped-one'), default quota."""
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SEQCORE_SHIPPED_DIR", str(tmp_path / "shipped"))
    for var in ("SEQCORE_MAX_USER_MODELS", "SEQCORE_MAX_USER_MB"):
        monkeypatch.delenv(var, raising=False)
    save_checkpoint(model(), card(), tmp_path / "shipped" / "shipped-one")
    return tmp_path


def kept(names_and_ages):
    """Save toy models into the user registry, each `age` seconds old (oldest saved first when listed)."""
    from seqcore.checkpoints import user_dir

    now = time.time()
    for name, age in names_and_ages:
        save_toy(model(), card(), name)
        for suffix in (".safetensors", ".json"):
            os.utime((user_dir() / name).with_suffix(suffix), (now - age, now - age))


def test_quota_defaults_and_host_settings(registry, monkeypatch):
    from seqcore.checkpoints import MAX_USER_MB, MAX_USER_MODELS, size_text, user_quota

    assert (MAX_USER_MODELS, MAX_USER_MB) == (20, 200)
    assert user_quota() == Quota(20, 200) and user_quota().bytes == 200 * 2**20
    monkeypatch.setenv("SEQCORE_MAX_USER_MODELS", "5")
    monkeypatch.setenv("SEQCORE_MAX_USER_MB", "12.5")
    assert user_quota() == Quota(5, 12.5) and user_quota().describe() == "5 models and 12.5 MB"
    assert size_text(840 * 1024) == "840 KB" and size_text(int(12.5 * 2**20)) == "12.5 MB" and size_text(3) == "1 KB"


@pytest.mark.parametrize(("var", "raw"), [("SEQCORE_MAX_USER_MODELS", "0"), ("SEQCORE_MAX_USER_MODELS", "2.5"),
                                          ("SEQCORE_MAX_USER_MODELS", "lots"), ("SEQCORE_MAX_USER_MB", "-1"),
                                          ("SEQCORE_MAX_USER_MB", "nan"), ("SEQCORE_MAX_USER_MB", "inf")])
def test_a_bad_quota_setting_names_the_variable(registry, monkeypatch, var, raw):
    from seqcore.checkpoints import user_quota

    monkeypatch.setenv(var, raw)
    with pytest.raises(CheckpointError, match=f"{var}=.*not a positive"):
        user_quota()


def test_over_the_model_count_the_oldest_go_first_and_never_the_new_one(registry, monkeypatch):
    from seqcore.checkpoints import keep, quota_plan, user_dir, user_models

    monkeypatch.setenv("SEQCORE_MAX_USER_MODELS", "3")
    kept([("b-middle", 200), ("a-newest", 100), ("c-oldest", 300)])
    assert [m.name for m in user_models()] == ["c-oldest", "b-middle", "a-newest"]  # oldest saved first
    assert [m.name for m in quota_plan(0)] == ["c-oldest"]  # what the page's warning names, before the save
    path, removed = keep(save_toy, model(), card(), "d-kept")
    assert path == user_dir() / "d-kept.safetensors" and [m.name for m in removed] == ["c-oldest"]
    assert [m.name for m in user_models()] == ["b-middle", "a-newest", "d-kept"]
    assert not (user_dir() / "c-oldest.json").exists() and not (user_dir() / "c-oldest.safetensors").exists()
    assert find_checkpoint("d-kept").card["kept"]  # the card says when it was kept
    monkeypatch.setenv("SEQCORE_MAX_USER_MODELS", "1")  # a host lowers the quota: the next keep trims to it
    _, removed = keep(save_toy, model(), card(), "e-kept")
    assert [m.name for m in removed] == ["b-middle", "a-newest", "d-kept"]
    assert [m.name for m in user_models()] == ["e-kept"]
    assert [c.name for c in list_checkpoints() if c.source == "shipped"] == ["shipped-one"]  # never shipped ones


def test_over_the_megabytes_the_oldest_go_until_the_new_one_fits(registry, monkeypatch):
    from seqcore.checkpoints import checkpoint_bytes, keep, measure, quota_plan, user_dir, user_models

    kept([("old", 300), ("mid", 200), ("new", 100)])
    size = checkpoint_bytes(user_dir() / "old")
    assert measure(save_toy, model(), card(), "x") == pytest.approx(size, abs=100) and size > 1000
    monkeypatch.setenv("SEQCORE_MAX_USER_MB", str(3.5 * size / 2**20))  # room for three and a half
    assert [m.name for m in quota_plan(size)] == ["old"]
    assert [m.name for m in quota_plan(2 * size)] == ["old", "mid"]
    with pytest.raises(CheckpointError, match="more than this server keeps in all"):
        quota_plan(4 * size)
    _, removed = keep(save_toy, model(), card(), "fourth")
    assert [m.name for m in removed] == ["old"] and [m.name for m in user_models()] == ["mid", "new", "fourth"]


def test_keep_into_a_read_only_folder_says_what_to_do(registry, monkeypatch):
    import seqcore.checkpoints as ckpt

    def read_only(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ckpt, "save_file", read_only)
    with pytest.raises(CheckpointError, match="Could not save .*Permission denied.*SEQCORE_HOME"):
        ckpt.keep(save_toy, model(), card(), "mine")


def test_free_names_skip_kept_and_shipped_ones(registry):
    from seqcore.checkpoints import free_name

    kept([("mine", 10), ("mine-2", 5)])
    assert free_name("mine") == "mine-3" and free_name("shipped-one") == "shipped-one-2"
    assert free_name("fresh") == "fresh"
    with pytest.raises(CheckpointError, match="invalid checkpoint name"):
        free_name("../up")


def test_delete_removes_a_kept_model_and_refuses_shipped_or_unknown_names(registry):
    from seqcore.checkpoints import delete_checkpoint, user_dir, user_models

    kept([("mine", 10), ("broken", 5)])
    (user_dir() / "broken.json").write_text("{not json")  # an unreadable card is deleted too
    gone = delete_checkpoint("mine")
    assert sorted(p.name for p in gone) == ["mine.json", "mine.safetensors"] and user_models() == []
    assert [p.name for p in delete_checkpoint("broken")] == ["broken.safetensors", "broken.json"]
    with pytest.raises(CheckpointError, match="no kept model named 'mine'"):
        delete_checkpoint("mine")
    with pytest.raises(CheckpointError, match="shipped checkpoint"):
        delete_checkpoint("shipped-one")
    assert find_checkpoint("shipped-one").source == "shipped"
    with pytest.raises(CheckpointError, match="invalid checkpoint name"):
        delete_checkpoint("../shipped/shipped-one")


def test_cli_lists_and_deletes_kept_models(registry, capsys):
    from seqcore.cli import main

    kept([("mine", 10)])
    assert main(["info"]) == 0
    info = json.loads(capsys.readouterr().out)
    (mine,) = [c for c in info["checkpoints"] if c["source"] == "user"]
    assert mine["name"] == "mine" and mine["created"] and mine["size_mb"] > 0
    assert info["user_models"] == {"models": 1, "mb": round(mine["size_mb"], 2), "max_models": 20, "max_mb": 200}
    assert main(["checkpoints", "list", "--user"]) == 0
    assert [c["name"] for c in json.loads(capsys.readouterr().out)["checkpoints"]] == ["mine"]
    assert main(["checkpoints", "delete", "mine", "nope"]) == 2  # checked first: nothing is deleted
    assert "no kept model named 'nope'" in capsys.readouterr().err and find_checkpoint("mine")
    assert main(["checkpoints", "delete", "shipped-one"]) == 2
    assert "shipped checkpoint" in capsys.readouterr().err
    assert main(["checkpoints", "delete", "mine"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["deleted"][0]["name"] == "mine" and out["user_models"]["models"] == 0
