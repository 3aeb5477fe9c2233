"""The seqcore command: JSON on stdout, exit 2 with a message on bad input."""

import json

import pytest

from seqcore.cli import main
from tests.helpers import run_cli


def test_info_is_json():
    r = run_cli("info")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["versions"]["torch"].startswith("2.11")
    assert info["device"]["type"] in {"cpu", "cuda", "mps"}
    assert isinstance(info["checkpoints"], list)


def test_bad_command_exits_2_with_message():
    r = run_cli("no-such-command")
    assert r.returncode == 2
    assert "invalid choice" in r.stderr and r.stdout == ""


def test_train_unknown_task_exits_2(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "no-such-task"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
