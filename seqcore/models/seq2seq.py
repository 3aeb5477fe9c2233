"""Encoder–decoder translators: a recurrent one with additive attention and a Transformer.

Both read source ids (B, S) and target ids (B, T) and share one decoding surface for seqcore.generate:
    start(src)               -> state        (encodes the source once)
    step(state, tokens)      -> (log_probs (B, V), state)   tokens (B, 1): the newest target token
    reorder(state, index)    -> state        (beam search keeps rows `index` of the batch)
and forward(src, tgt_in, return_attention=True) gives the attention maps of a whole target at once.

"rnn": a bidirectional LSTM encoder h_i = [h_i^fwd; h_i^bwd]; an LSTM decoder s_t over the target
embeddings; additive (Bahdanau) scores e_ti = v^T tanh(W_h h_i + W_s s_t), alpha_t = softmax(e_t),
context c_t = sum_i alpha_ti h_i, and the next token from tanh(W_o [s_t; c_t]) (Luong's placement: the
decoder attends after its step, so training runs the LSTM over the whole target in one fused call).
"transformer": seqcore's Transformer twice: a bidirectional encoder and a causal decoder that
cross-attends to it; step-by-step decoding goes through the KV cache.
Output embeddings are tied to the target input embeddings in both (Press & Wolf 2017): fewer weights.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from seqcore.models.attention import AdditiveAttention
from seqcore.models.rnn import run_rnn
from seqcore.models.transformer import Transformer, TransformerConfig

ARCHS = ("rnn", "transformer")


@dataclass
class Seq2SeqConfig:
    arch: str = "rnn"            # rnn | transformer
    src_vocab: int = 3000
    tgt_vocab: int = 4000
    d_model: int = 256           # embeddings (both), Transformer width, RNN attention size
    hidden: int = 256            # RNN: encoder state per direction; the decoder has 2 * hidden
    enc_layers: int = 1
    dec_layers: int = 1
    n_heads: int = 4
    d_ff: int = 1024
    dropout: float = 0.3
    max_len: int = 160           # positions (Transformer) and the longest input accepted

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Seq2SeqConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def build_translator(cfg: Seq2SeqConfig) -> nn.Module:
    if cfg.arch == "rnn":
        return RNNTranslator(cfg)
    if cfg.arch == "transformer":
        return TransformerTranslator(cfg)
    raise ValueError(f"arch must be one of {ARCHS}, got {cfg.arch!r}")


def _pad_mask(src: torch.Tensor) -> torch.Tensor:
    return src == 0  # (B, S), True = <pad> (id 0)


class RNNTranslator(nn.Module):
    """BiLSTM encoder + LSTM decoder with additive attention.

    forward: src (B, S), tgt_in (B, T) -> logits (B, T, V), attention (B, T, 1, 1, S) or None.
    """

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.config = cfg
        d, h = cfg.d_model, cfg.hidden
        self.src_embed = nn.Embedding(cfg.src_vocab, d, padding_idx=0)
        self.tgt_embed = nn.Embedding(cfg.tgt_vocab, d, padding_idx=0)
        self.encoder = nn.LSTM(d, h, num_layers=cfg.enc_layers, bidirectional=True, batch_first=True,
                               dropout=cfg.dropout if cfg.enc_layers > 1 else 0.0)
        self.bridge = nn.Linear(2 * h, 2 * 2 * h * cfg.dec_layers)  # mean encoder state -> decoder (h0, c0)
        self.decoder = nn.LSTM(d, 2 * h, num_layers=cfg.dec_layers, batch_first=True,
                               dropout=cfg.dropout if cfg.dec_layers > 1 else 0.0)
        self.attend = AdditiveAttention(2 * h, 2 * h, d)
        self.combine = nn.Linear(4 * h, d)
        self.drop = nn.Dropout(cfg.dropout)
        self.out_bias = nn.Parameter(torch.zeros(cfg.tgt_vocab))
        self.scale = d ** 0.5  # tied N(0, 1) embeddings: keeps the first logits near unit scale

    def encode(self, src: torch.Tensor):
        """src (B, S) -> memory (B, S, 2H), keys (B, S, A), pad (B, S), initial decoder state."""
        pad = _pad_mask(src)
        lengths = (~pad).sum(1).clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.drop(self.src_embed(src)), lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.encoder(packed)
        memory, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])
        mean = (memory * (~pad)[..., None]).sum(1) / lengths.to(memory.device)[:, None]
        b, layers, hd = src.shape[0], self.config.dec_layers, 2 * self.config.hidden
        h0, c0 = torch.tanh(self.bridge(mean)).view(b, 2, layers, hd).permute(1, 2, 0, 3).contiguous()
        return memory, self.attend.project(memory), pad, (h0, c0)

    def _read(self, s: torch.Tensor, memory, keys, pad):
        """decoder states s (B, T, 2H) -> logits (B, T, V), alpha (B, T, S)."""
        alpha = self.attend(keys, s, pad)                       # (B, T, S)
        context = alpha @ memory                                # (B, T, 2H)
        o = torch.tanh(self.combine(self.drop(torch.cat([s, context], -1))))  # (B, T, d)
        return F.linear(self.drop(o), self.tgt_embed.weight, self.out_bias) / self.scale, alpha

    def forward(self, src, tgt_in, *, return_attention: bool = False):
        memory, keys, pad, state = self.encode(src)
        s, _ = self.decoder(self.drop(self.tgt_embed(tgt_in)), state)  # (B, T, 2H)
        logits, alpha = self._read(s, memory, keys, pad)
        return logits, (alpha[:, :, None, None, :] if return_attention else None)

    # ---- step-by-step decoding (seqcore.generate)
    def start(self, src: torch.Tensor) -> dict:
        memory, keys, pad, state = self.encode(src)
        return {"memory": memory, "keys": keys, "pad": pad, "hc": state}

    def step(self, state: dict, tokens: torch.Tensor):
        """tokens (B, 1) -> log-probabilities (B, V) of the next token; the LSTM state is carried."""
        s, hc = run_rnn(self.decoder, self.tgt_embed(tokens), state["hc"])
        logits, _ = self._read(s, state["memory"], state["keys"], state["pad"])
        return F.log_softmax(logits[:, -1].float(), -1), {**state, "hc": hc}

    def reorder(self, state: dict, index: torch.Tensor) -> dict:
        h, c = state["hc"]
        return {"memory": state["memory"][index], "keys": state["keys"][index], "pad": state["pad"][index],
                "hc": (h[:, index], c[:, index])}


class TransformerTranslator(nn.Module):
    """Transformer encoder (bidirectional) + decoder (causal, cross-attending).

    forward: src (B, S), tgt_in (B, T) -> logits (B, T, V), cross-attention (B, T, L, H, S) or None.
    """

    def __init__(self, cfg: Seq2SeqConfig):
        super().__init__()
        self.config = cfg
        common = dict(d_model=cfg.d_model, n_heads=cfg.n_heads, d_ff=cfg.d_ff, dropout=cfg.dropout,
                      max_len=cfg.max_len, positions="sinusoidal")
        self.encoder = Transformer(TransformerConfig(n_layers=cfg.enc_layers, vocab_size=cfg.src_vocab, **common))
        self.decoder = Transformer(TransformerConfig(n_layers=cfg.dec_layers, vocab_size=cfg.tgt_vocab, causal=True,
                                                     cross_attention=True, **common))
        self.out_bias = nn.Parameter(torch.zeros(cfg.tgt_vocab))
        self.scale = cfg.d_model ** 0.5  # tied N(0, 1) embeddings: keeps the first logits near unit scale

    def _logits(self, h: torch.Tensor) -> torch.Tensor:
        return F.linear(h, self.decoder.embed.weight, self.out_bias) / self.scale

    def encode(self, src: torch.Tensor, *, return_attention: bool = False):
        pad = _pad_mask(src)
        out = self.encoder(src, key_padding_mask=pad, return_attention=return_attention)
        return out.y, pad, out.attentions

    def forward(self, src, tgt_in, *, return_attention: bool = False):
        memory, pad, _ = self.encode(src)
        out = self.decoder(tgt_in, memory, context_padding_mask=pad, return_attention=return_attention)
        att = torch.stack(out.cross_attentions, 2) if return_attention else None  # (B, H, L, T, S)
        if att is not None:
            att = att.permute(0, 3, 2, 1, 4)  # (B, H, L, T, S) -> (B, T, L, H, S)
        return self._logits(out.y), att

    def attention_maps(self, src, tgt_in) -> dict[str, list[torch.Tensor]]:
        """Every attention of one forward pass: per layer (B, H, T_q, T_k) for encoder self, decoder self, cross."""
        memory, pad, enc_att = self.encode(src, return_attention=True)
        out = self.decoder(tgt_in, memory, context_padding_mask=pad, return_attention=True)
        return {"encoder": enc_att, "decoder": out.attentions, "cross": out.cross_attentions}

    # ---- step-by-step decoding (seqcore.generate)
    def start(self, src: torch.Tensor) -> dict:
        memory, pad, _ = self.encode(src)
        return {"memory": memory, "pad": pad, "cache": self.decoder.new_cache()}

    def step(self, state: dict, tokens: torch.Tensor):
        """tokens (B, 1) -> log-probabilities (B, V); keys/values of earlier tokens come from the cache."""
        out = self.decoder(tokens, state["memory"], context_padding_mask=state["pad"], cache=state["cache"])
        return F.log_softmax(self._logits(out.y[:, -1]).float(), -1), state

    def reorder(self, state: dict, index: torch.Tensor) -> dict:
        return {"memory": state["memory"][index], "pad": state["pad"][index], "cache": state["cache"].select(index)}
