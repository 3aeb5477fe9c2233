"""Shapes and the invariants that make the models trustworthy: causality, attention, carried state."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqcore.models import RNNConfig, SequenceRNN, Transformer, TransformerConfig
from seqcore.models.rnn import run_rnn


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_rnn_shapes_tokens(cell, bidirectional):
    m = SequenceRNN(RNNConfig(cell=cell, vocab_size=11, embed_dim=8, hidden_size=16, num_layers=2,
                              bidirectional=bidirectional))
    y, state = m(torch.randint(0, 11, (3, 7)))
    assert y.shape == (3, 7, 32 if bidirectional else 16)
    h = state[0] if cell == "lstm" else state
    assert h.shape == (2 * (2 if bidirectional else 1), 3, 16)


def test_rnn_features_and_head():
    m = SequenceRNN(RNNConfig(cell="lstm", input_size=4, hidden_size=16, out_size=3))
    y, _ = m(torch.randn(2, 9, 4))
    assert y.shape == (2, 9, 3)


def test_rnn_rejects_unknown_cell():
    with pytest.raises(ValueError, match="cell must be one of"):
        SequenceRNN(RNNConfig(cell="transformer"))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_carried_state_equals_full_pass(cell):
    torch.manual_seed(0)
    m = SequenceRNN(RNNConfig(cell=cell, vocab_size=20, embed_dim=8, hidden_size=12, num_layers=2, out_size=20))
    m.eval()
    x = torch.randint(0, 20, (2, 15))
    full, _ = m(x)
    state, parts = None, []
    for t in range(15):  # one token at a time, as generation does
        y, state = m(x[:, t: t + 1], state)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, 1), full, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU"])
def test_one_step_kernels_equal_the_fused_call(mode):
    """run_rnn takes torch's cell kernels for one CPU step (decoding); outputs and carried state must not change."""
    torch.manual_seed(0)
    cls = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU}.get(mode, torch.nn.RNN)
    extra = {"nonlinearity": mode[4:].lower()} if cls is torch.nn.RNN else {}
    rnn = cls(5, 7, num_layers=2, dropout=0.3, batch_first=True, **extra).eval()
    fused = steps = None
    for _ in range(3):
        x = torch.randn(4, 1, 5)
        y_fused, fused = rnn(x, fused)
        y_steps, steps = run_rnn(rnn, x, steps)
        torch.testing.assert_close(y_steps, y_fused)
        torch.testing.assert_close(steps, fused)


def tiny(**kw) -> Transformer:
    torch.manual_seed(0)
    cfg = dict(d_model=16, n_heads=4, n_layers=2, vocab_size=13, out_size=13, max_len=64)
    cfg.update(kw)
    return Transformer(TransformerConfig(**cfg)).eval()


def test_transformer_shapes():
    m = tiny()
    out = m(torch.randint(0, 13, (3, 10)), return_attention=True)
    assert out.y.shape == (3, 10, 13)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (3, 4, 10, 10)
    assert out.cross_attentions is None
    feats = Transformer(TransformerConfig(d_model=16, n_heads=2, n_layers=1, input_size=5, out_size=3))
    assert feats(torch.randn(2, 6, 5)).y.shape == (2, 6, 3)


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_causal_mask_hides_the_future(positions):
    m = tiny(causal=True, positions=positions)
    x = torch.randint(0, 13, (1, 12))
    x2 = x.clone()
    x2[0, 8:] = (x2[0, 8:] + 1) % 13
    y1, y2 = m(x).y, m(x2).y
    torch.testing.assert_close(y1[:, :8], y2[:, :8])
    assert not torch.allclose(y1[:, 8:], y2[:, 8:])
    att = m(x, return_attention=True).attentions[0]
    assert torch.all(att.triu(diagonal=1) == 0)


def test_attention_rows_sum_to_one_and_match_sdpa():
    m = tiny()
    x = torch.randint(0, 13, (2, 9))
    fast = m(x).y
    slow = m(x, return_attention=True)
    torch.testing.assert_close(slow.y, fast, rtol=1e-5, atol=1e-5)
    for att in slow.attentions:
        torch.testing.assert_close(att.sum(-1), torch.ones(att.shape[:-1]))
    # Layer 0 by hand: softmax(Q K^T / sqrt(d_k)) from the block's own projections.
    block = m.blocks[0]
    h = block.ln1(m.embed_tokens(x))
    q, k = block.attn.split(block.attn.q(h)), block.attn.split(block.attn.k(h))
    manual = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(block.attn.d_head), dim=-1)
    torch.testing.assert_close(slow.attentions[0], manual)
    v = block.attn.split(block.attn.v(h))
    torch.testing.assert_close(manual @ v, F.scaled_dot_product_attention(q, k, v), rtol=1e-5, atol=1e-5)


def test_padding_keys_get_no_attention():
    m = tiny()
    x = torch.randint(0, 13, (2, 6))
    pad = torch.tensor([[False] * 6, [False] * 4 + [True] * 2])
    out = m(x, key_padding_mask=pad, return_attention=True)
    assert torch.all(out.attentions[1][1, :, :, 4:] == 0)
    fast = m(x, key_padding_mask=pad).y
    torch.testing.assert_close(out.y, fast, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cross", [False, True])
def test_kv_cache_decoding_equals_full_recompute(cross):
    m = tiny(causal=True, cross_attention=cross)
    x = torch.randint(0, 13, (2, 11))
    ctx = torch.randn(2, 5, 16) if cross else None
    full = m(x, ctx).y
    cache = m.new_cache()
    steps = [m(x[:, :4], ctx, cache=cache).y]  # a prime of 4, then one token at a time
    for t in range(4, 11):
        steps.append(m(x[:, t: t + 1], ctx, cache=cache).y)
    assert cache.length == 11
    torch.testing.assert_close(torch.cat(steps, 1), full, rtol=1e-5, atol=1e-5)


def test_cache_with_attention_weights_matches():
    m = tiny(causal=True)
    x = torch.randint(0, 13, (1, 7))
    full = m(x, return_attention=True).attentions[1][0, :, -1]
    cache = m.new_cache()
    m(x[:, :6], cache=cache)
    last = m(x[:, 6:], cache=cache, return_attention=True).attentions[1][0, :, -1]
    torch.testing.assert_close(last, full, rtol=1e-5, atol=1e-6)


def test_too_long_input_is_a_clear_error():
    m = tiny(max_len=8)
    with pytest.raises(ValueError, match="exceeds max_len"):
        m(torch.randint(0, 13, (1, 9)))


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_transformer_from_embeddings_equals_from_ids(positions):
    """embeddings= replaces embed(x) only: positions, blocks and padding masks are the same forward."""
    m = tiny(positions=positions)
    x = torch.randint(0, 13, (2, 7))
    pad = torch.tensor([[False] * 7, [False] * 5 + [True] * 2])
    torch.testing.assert_close(m(None, key_padding_mask=pad, embeddings=m.embed(x)).y, m(x, key_padding_mask=pad).y)


def test_rnn_lengths_pack_padding_out_of_the_state():
    """With lengths, each row equals that sequence run alone (no padding read, even backwards)."""
    torch.manual_seed(0)
    m = SequenceRNN(RNNConfig(cell="lstm", vocab_size=11, embed_dim=8, hidden_size=6, bidirectional=True)).eval()
    x = torch.randint(1, 11, (2, 6))
    x[1, 4:] = 0
    y, (h, _) = m(x, lengths=torch.tensor([6, 4]))
    alone, (h_alone, _) = m(x[1:, :4])
    torch.testing.assert_close(y[1, :4], alone[0])
    assert torch.all(y[1, 4:] == 0)
    torch.testing.assert_close(h[:, 1], h_alone[:, 0])
    torch.testing.assert_close(m(None, embeddings=m.embed(x))[0], m(x)[0])  # embeddings in place of ids


def test_additive_attention_pooling_has_its_query_in_the_bias():
    """d_query=None: weights over the keys alone, softmax(v^T tanh(W k + b)), padding masked."""
    from seqcore.models.attention import AdditiveAttention

    att = AdditiveAttention(5, None, 4)
    keys = torch.randn(2, 3, 5)
    pad = torch.tensor([[False, False, True], [False, False, False]])
    alpha = att(att.project(keys), None, pad)
    by_hand = att.score(torch.tanh(att.key(keys))).squeeze(-1).masked_fill(pad, float("-inf")).softmax(-1)
    torch.testing.assert_close(alpha, by_hand)
    assert alpha.shape == (2, 3) and alpha[0, 2] == 0
    with pytest.raises(ValueError, match="query"):
        att(att.project(keys), torch.randn(2, 4))
