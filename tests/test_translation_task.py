"""Translators: shapes, cached step-by-step decoding equal to full recomputation, beam search, names, the task
protocol on a tiny run (train -> save -> load -> evaluate -> probe)."""

import pytest
import torch

from seqcore.data.translation_vocab import BOS, EOS
from seqcore.errors import InputError
from seqcore.generate import beam_search
from seqcore.models.attention import AdditiveAttention
from seqcore.models.seq2seq import ARCHS, Seq2SeqConfig, build_translator
from seqcore.tasks import translation as T
from seqcore.tasks.translation_decode import check_text

SMALL = dict(d_model=32, hidden=16, n_heads=4, d_ff=64, enc_layers=2, dec_layers=2, dropout=0.0,
             src_vocab=50, tgt_vocab=40)


def model(arch):
    torch.manual_seed(0)
    return build_translator(Seq2SeqConfig(arch=arch, **SMALL)).eval()


def batch():
    src = torch.tensor([[5, 6, 7, 8, 9], [10, 11, 12, 0, 0]])  # the second is padded
    tgt_in = torch.tensor([[BOS, 4, 5, 6], [BOS, 7, 8, 9]])
    return src, tgt_in


@pytest.mark.parametrize("arch", ARCHS)
def test_shapes_and_attention_rows(arch):
    m = model(arch)
    src, tgt_in = batch()
    logits, att = m(src, tgt_in, return_attention=True)
    assert logits.shape == (2, 4, 40)
    layers, heads = (1, 1) if arch == "rnn" else (2, 4)
    assert att.shape == (2, 4, layers, heads, 5)
    torch.testing.assert_close(att.sum(-1), torch.ones(2, 4, layers, heads))
    assert att[1, ..., 3:].abs().max() == 0  # no weight on padding


@pytest.mark.parametrize("arch", ARCHS)
def test_cached_decoding_equals_full_recomputation(arch):
    m = model(arch)
    src, tgt_in = batch()
    with torch.no_grad():
        full = torch.log_softmax(m(src, tgt_in)[0], -1)  # (B, T, V)
        state = m.start(src)
        for t in range(tgt_in.shape[1]):
            step, state = m.step(state, tgt_in[:, t: t + 1])
            torch.testing.assert_close(step, full[:, t], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_reorder_keeps_the_chosen_rows(arch):
    m = model(arch)
    src, tgt_in = batch()
    with torch.no_grad():
        state = m.start(src)
        _, state = m.step(state, tgt_in[:, :1])
        swapped = m.reorder(state, torch.tensor([1, 1]))
        a, _ = m.step(swapped, tgt_in[1:2, 1:2].repeat(2, 1))
        ref_state = m.start(src[1:2])
        _, ref_state = m.step(ref_state, tgt_in[1:2, :1])
        b, _ = m.step(ref_state, tgt_in[1:2, 1:2])
    torch.testing.assert_close(a[0], b[0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(a[1], b[0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("arch", ARCHS)
def test_beam_one_is_greedy_and_prefix_is_kept(arch):
    m = model(arch)
    src = torch.tensor([[5, 6, 7]])
    result = beam_search(m, src, bos=BOS, eos=EOS, beam=1, max_len=6, alpha=0.0)
    tokens, state, last = [], m.start(src), BOS
    with torch.no_grad():
        for _ in range(6):
            lp, state = m.step(state, torch.tensor([[last]]))
            last = int(lp.argmax())
            tokens.append(last)
            if last == EOS:
                break
    assert result.best.tokens == tokens
    wide = beam_search(m, src, bos=BOS, eos=EOS, beam=4, max_len=6, alpha=0.0, prefix=[9, 10], record=True)
    assert wide.best.tokens[:2] == [9, 10] and wide.tree and len(wide.hypotheses) >= 1
    ranked = [h.normalized(0.6) for h in beam_search(m, src, bos=BOS, eos=EOS, beam=4, max_len=6).hypotheses]
    assert ranked == sorted(ranked, reverse=True)


def test_additive_attention_masks_padding():
    att = AdditiveAttention(8, 6, 5)
    keys, q = torch.randn(2, 4, 8), torch.randn(2, 3, 6)
    pad = torch.tensor([[False, False, True, True], [False, False, False, False]])
    alpha = att(att.project(keys), q, pad)
    assert alpha.shape == (2, 3, 4) and alpha[0, :, 2:].abs().max() == 0
    torch.testing.assert_close(alpha.sum(-1), torch.ones(2, 3))
    assert att(att.project(keys), q[:, 0], pad).shape == (2, 4)


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   ", "empty"), ("我" * 5000, "5,000 characters"), ("😀😀😀", "only symbols or emoji"),
    ("The film was great.", "no Chinese characters"), ("你好\x00", "NUL"),
])
def test_bad_text_is_refused_with_a_message(text, message):
    with pytest.raises(InputError, match=message):
        check_text(text)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The task protocol end to end on a tiny Transformer: train -> save -> load."""
    cfg = T.TranslationConfig(arch="transformer", model=dict(d_model=32, d_ff=64, enc_layers=1, dec_layers=1),
                              epochs=1, max_train_pairs=256, batch_size=32, tgt_vocab=400)
    seen = []
    translator, card = T.train(cfg, on_progress=seen.append)
    out = tmp_path_factory.mktemp("ckpt")
    T.save(translator, card, "translate-tiny", out)
    return translator, card, out, seen


def test_task_protocol_round_trip(tiny, monkeypatch):
    translator, card, out, seen = tiny
    assert seen and card["task"] == "translate" and card["tokenizer"]["target"]["kind"] == "sentencepiece"
    assert card["training"]["result"]["steps"] > 0 and "Tatoeba" in card["data"]["credit"]
    monkeypatch.setenv("SEQCORE_HOME", str(out.parent))
    from seqcore.checkpoints import CheckpointInfo, read_card

    info = CheckpointInfo("translate-tiny", "translate", "transformer", "user", out / "translate-tiny",
                          read_card(out / "translate-tiny"))
    again, _ = T.load(info)
    src = again.source_ids("我是学生。")
    with torch.no_grad():
        a = translator.model.half().float()(src, torch.tensor([[BOS, 5]]))[0]  # what fp16 storage keeps
        b = again.model(src, torch.tensor([[BOS, 5]]))[0]
    torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-3)  # half() also rounded the position table
    scores = T.evaluate(again, "test", beam=2, limit=5, examples=2)
    assert {"bleu", "chrf", "n"} <= set(scores) and scores["n"] == 5 and len(scores["examples"]) == 2
    probe = T.attention_probe(info, "我是学生。")
    assert probe.x.shape[1] == len(probe.tokens) and probe.context_tokens == list("我是学生。")
    got = probe.model(probe.x, probe.context, return_attention=True)
    assert got.cross_attentions[0].shape[-1] == len(probe.context_tokens)


def test_stand_in_names_are_swapped_back(tiny, monkeypatch):
    translator = tiny[0]
    # Whatever an untrained model writes, a stand-in that comes out as "Tom" must be replaced by the name.
    monkeypatch.setattr(translator.tgt_vocab, "decode", lambda ids: "I am Tom.")
    monkeypatch.setattr(translator.tgt_vocab, "piece", lambda i: "▁Tom")
    t = translator.translate("我是mika。", beam=1)
    assert t.translation == "I am mika." and t.names["method"] == "stand-in names"
    assert t.names["substitutions"] == [["mika", "汤姆"]] and "汤" in t.source_tokens
