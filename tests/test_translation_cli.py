"""`seqcore translate`, `seqcore translate evaluate`, `seqcore train translate`: the CLI contract and bad input."""

import json

import pytest

from seqcore.checkpoints import list_checkpoints
from seqcore.tasks import translation as T
from tests.helpers import cli, run_cli


def test_shipped_translators_exist():
    """A missing shipped checkpoint fails here instead of skipping the tests below."""
    names = {c.name for c in list_checkpoints(T.TASK) if c.source == "shipped"}
    assert {"translate-rnn", "translate-transformer"} <= names


def test_one_text_gives_one_object_with_the_contract_keys(capsys):
    code, out, _ = cli(capsys, "translate", "--model", "rnn", "我们明天见。")
    assert code == 0
    doc = json.loads(out)
    assert {"source", "translation", "tokens", "score"} <= set(doc)
    assert doc["source"] == "我们明天见。" and doc["translation"] and doc["score"] < 0
    assert "".join(doc["tokens"]).replace("▁", " ").strip() == doc["translation"]


def test_several_texts_give_a_list(capsys):
    code, out, _ = cli(capsys, "translate", "--model", "transformer", "--beam", "1", "你好。", "谢谢你。")
    assert code == 0 and [d["source"] for d in json.loads(out)] == ["你好。", "谢谢你。"]


@pytest.mark.parametrize("model", [None, "rnn", "transformer"])
def test_the_lectures_example_keeps_the_name(capsys, model):
    args = ["translate", "我是mika。"] + (["--model", model] if model else [])
    code, out, _ = cli(capsys, *args)
    doc = json.loads(out)
    assert code == 0 and doc["translation"] in {"I am mika.", "I'm mika."}, doc
    assert doc["names"]["method"] == "stand-in names"


def test_default_model_is_the_best_by_held_out_bleu(capsys):
    best = max(list_checkpoints(T.TASK), key=lambda c: c.card.get("metrics", {}).get("bleu", -1))
    code, out, _ = cli(capsys, "translate", "你好。")
    assert code == 0 and json.loads(out)["model"] == best.name == T.best_name()


def test_prefix_forcing_starts_the_translation(capsys):
    code, out, _ = cli(capsys, "translate", "--model", "rnn", "--prefix", "Tomorrow", "我们明天见。")
    assert code == 0 and json.loads(out)["translation"].startswith("Tomorrow")


def test_evaluate_scores_a_tsv_against_several_references(capsys, tmp_path):
    tsv = tmp_path / "t.tsv"
    tsv.write_text("source\treference\tref2\n我们明天见。\tSee you tomorrow.\tWe'll meet tomorrow.\n"
                   "你好。\tHello.\tHi.\n我喜欢猫。\tI like cats.\tI love cats.\n", encoding="utf-8")
    code, out, _ = cli(capsys, "translate", "evaluate", "--tsv", str(tsv), "--reference-column", "reference",
                       "--reference-column", "ref2")
    doc = json.loads(out)
    assert code == 0 and doc["n"] == 3 and 0 <= doc["bleu"] <= 100 and 0 <= doc["chrf"] <= 100


@pytest.mark.parametrize("args, message", [
    (["translate", ""], "empty"),
    (["translate", "我" * 5000], "5,000 characters"),
    (["translate", "😀🎉"], "emoji"),
    (["translate", "This is English."], "no Chinese characters"),
    (["translate", "--beam", "9", "你好"], "beam width"),
    (["translate"], "give one or more"),
    (["translate", "evaluate"], "--tsv"),
    (["translate", "evaluate", "--tsv", "/no/such.tsv"], "no such file"),
    (["translate", "--model", "nosuch", "你好"], "no checkpoint named"),
])
def test_bad_input_exits_2_with_a_message(capsys, args, message):
    code, out, err = cli(capsys, *args)
    assert code == 2 and out == "" and message in err, err


@pytest.mark.parametrize("content, message", [
    ("source\treference\n", "at least one row"),
    ("src\tref\n你好\tHello\n", "no column 'source'"),
    ("source\treference\n你好\tHello\textra\n", "line 2"),
    ("source\treference\n\tHello\n", "empty source"),
])
def test_malformed_tsv_exits_2(capsys, tmp_path, content, message):
    tsv = tmp_path / "bad.tsv"
    tsv.write_text(content, encoding="utf-8")
    code, _, err = cli(capsys, "translate", "evaluate", "--tsv", str(tsv))
    assert code == 2 and message in err, err


def test_binary_tsv_exits_2(capsys, tmp_path):
    tsv = tmp_path / "bin.tsv"
    tsv.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    code, _, err = cli(capsys, "translate", "evaluate", "--tsv", str(tsv))
    assert code == 2 and ("UTF-8" in err or "binary" in err), err


def test_train_smoke_and_the_real_process(tmp_path):
    """`seqcore train translate` end to end on a few pairs, in a real process, then translating with the result."""
    out = run_cli("train", "translate", "--model", "transformer", "--epochs", "1", "--max-pairs", "128",
                  "--eval-n", "8", "--name", "smoke", "--out", str(tmp_path))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["name"] == "smoke" and {"bleu", "chrf", "baselines"} <= set(doc["metrics"])
    card = json.loads((tmp_path / "smoke.json").read_text())
    assert card["command"].startswith("seqcore train translate") and card["dtype"] == "float16"
