"""Tatoeba zh-en: the embedded file, the BOM, Simplified conversion, the split (no leakage), vocabularies, baselines."""

import gzip

import pytest

from seqcore.data import tatoeba
from seqcore.data.translation_vocab import BOS, EOS, PAD, UNK, SourceVocab, TargetVocab
from seqcore.errors import InputError
from seqcore.tasks.translation_baselines import TranslationMemory, gloss, score


def test_embedded_file_is_the_wheels_tsv_byte_for_byte():
    assert tatoeba.tsv_sha256() == tatoeba.TSV_SHA256
    assert gzip.decompress(tatoeba.EMBEDDED.read_bytes())[:3] == b"\xef\xbb\xbf"  # it starts with a BOM


def test_byte_order_mark_is_not_part_of_the_first_sentence(tmp_path):
    path = tmp_path / "t.tsv"
    path.write_bytes("\ufeff1\t我們試試看！\t1276\tLet's try something.\n2\t我该去睡觉了。\t2\tI must sleep.\n"
                     .encode())
    rows = tatoeba.read_rows(path)
    assert rows[0] == ("我們試試看！", "Let's try something.")
    assert tatoeba.read_rows()[0] == ("我們試試看！", "Let's try something.")


def test_malformed_tsv_names_the_line(tmp_path):
    path = tmp_path / "bad.tsv"
    path.write_text("1\t你好\t1\tHello\n2\t再见\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        tatoeba.read_rows(path)


def test_traditional_becomes_simplified_and_full_width_ascii():
    assert tatoeba.normalize_chinese("我們試試看！") == "我们试试看!"
    assert tatoeba.normalize_chinese("什麼") == "什么"  # CC-CEDICT's table would give 什幺
    assert tatoeba.normalize_chinese("今天是６月１８号") == "今天是6月18号"


def test_corpus_size_and_references():
    items = tatoeba.examples()
    assert 50_000 < len(items) < 50_800  # 50,779 distinct as written; Traditional/Simplified twins merge
    assert sum(len(ex.references) for ex in items) > 56_000
    first = items[0]
    assert first.normalized == "我们试试看!" and "Let's try something." in first.references
    assert len(first.references) >= 5


def test_split_has_no_leakage_and_keeps_all_translations_together():
    parts = {name: tatoeba.split(name) for name in tatoeba.SPLITS}
    seen = {name: {ex.normalized for ex in items} for name, items in parts.items()}
    assert not seen["train"] & seen["test"] and not seen["train"] & seen["validation"]
    assert not seen["validation"] & seen["test"]
    total = sum(len(v) for v in parts.values())
    assert total == len(tatoeba.examples())
    assert 0.04 < len(parts["test"]) / total < 0.06
    # A sentence written in both scripts is one example, in one split, with both scripts' translations.
    rows = tatoeba.read_rows()
    trad = next(zh for zh, _ in rows if zh != tatoeba.normalize_chinese(zh) and any(
        tatoeba.normalize_chinese(z) == tatoeba.normalize_chinese(zh) and z != zh for z, _ in rows[:2000]))
    where = [name for name, s in seen.items() if tatoeba.normalize_chinese(trad) in s]
    assert len(where) == 1


def test_split_is_fixed():
    assert tatoeba.split("test")[0].normalized == tatoeba.split("test")[0].normalized
    with pytest.raises(InputError):
        tatoeba.split("dev")


def test_vocabularies_round_trip():
    src = SourceVocab.build(["我是汤姆", "我是", "你是"], min_count=2)
    assert src.encode("我是猫") == [src.stoi["我"], src.stoi["是"], UNK]
    assert SourceVocab.from_dict(src.to_dict()).itos == src.itos
    english = ["I am Tom.", "You are Mary.", "I like tea.", "Tom likes tea."] * 50
    tgt = TargetVocab.build(english, vocab_size=60)
    ids = tgt.encode("I am Mary.")
    assert min(ids) > EOS and tgt.decode(ids) == "I am Mary."
    assert tgt.decode([BOS, *ids, EOS, PAD]) == "I am Mary."
    again = TargetVocab.from_dict(tgt.to_dict())
    assert again.encode("Tom likes tea.") == tgt.encode("Tom likes tea.")


def test_score_uses_every_reference():
    hyps = ["I'm a student of history.", "The cat sat on the mat."]
    refs = [("I am a student of history.", "I'm a student of history."), ("The cat sat on the mat.",)]
    assert score(hyps, refs)["bleu"] == pytest.approx(100.0)
    assert score(hyps, [refs[0][:1], refs[1]])["bleu"] < 90.0


def test_translation_memory_returns_the_nearest_training_sentence():
    train = tatoeba.split("train")[:2000]
    tm = TranslationMemory(train)
    ex, sim = tm.lookup([train[5].source])[0]
    assert ex == train[5] and sim == pytest.approx(1.0, abs=1e-6)


def test_dictionary_gloss_is_word_by_word():
    out = gloss("我是mika。")
    assert out.startswith("I") and "mika" in out
