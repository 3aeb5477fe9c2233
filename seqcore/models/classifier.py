"""Sequence classifiers (many-to-one) over seqcore's recurrent and Transformer encoders.

Both read right-padded token ids with their lengths and end in the same attention pooling
(a_t = softmax_t(v^T tanh(W h_t + b)), pooled = sum_t a_t h_t) and a linear head giving one logit.
The pooling weights are returned with the logit so a page can show them without hooks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from seqcore.models.attention import AdditiveAttention
from seqcore.models.rnn import RNNConfig, SequenceRNN
from seqcore.models.transformer import Transformer, TransformerConfig


def padding_mask(lengths: torch.Tensor, t: int) -> torch.Tensor:
    """lengths (B,) -> (B, T) bool, True on padding."""
    return torch.arange(t, device=lengths.device)[None, :] >= lengths[:, None]


class AttentionPooling(nn.Module):
    """h (B, T, D), pad (B, T) bool -> pooled (B, D), weights (B, T) summing to 1 over real tokens.

    Additive attention with one learned query (seqcore.models.attention, no query input).
    """

    def __init__(self, d: int, d_att: int = 64):
        super().__init__()
        self.attn = AdditiveAttention(d, None, d_att)

    def forward(self, h: torch.Tensor, pad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        weights = self.attn(self.attn.project(h), None, pad)  # (B, T)
        return (weights.unsqueeze(-1) * h).sum(1), weights


class PooledClassifier(nn.Module):
    """What both classifiers share: encode(e, lengths) -> states (B, T, D), then pooling and a linear head.

    forward(ids (B, T) int64, lengths (B,) int64) -> (logits (B,), pooling weights (B, T)).
    forward_embedded starts from the token embeddings (B, T, E) instead, so saliency can differentiate them.
    """

    pool: AttentionPooling
    head: nn.Linear
    drop: nn.Dropout

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T, E): the input that gradient x input saliency differentiates."""
        return self.encoder.embed(ids)

    def encode(self, e: torch.Tensor, lengths: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward_embedded(self, e: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pad = padding_mask(lengths, e.shape[1])
        pooled, weights = self.pool(self.encode(e, lengths, pad), pad)
        return self.head(self.drop(pooled)).squeeze(-1), weights

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_embedded(self.embed(ids), lengths)


@dataclass
class LSTMClassifierConfig:
    vocab_size: int
    embed_dim: int = 64
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = True
    embed_dropout: float = 0.3
    dropout: float = 0.3

    def to_dict(self) -> dict:
        return asdict(self)


class LSTMClassifier(PooledClassifier):
    """Embedding -> (Bi)LSTM over packed sequences -> attention pooling -> linear -> logit.

    forward(ids (B, T) int64, lengths (B,) int64) -> (logits (B,), pooling weights (B, T)).
    Packing (SequenceRNN's lengths) means padding never enters the backward direction's state.
    """

    def __init__(self, cfg: LSTMClassifierConfig):
        super().__init__()
        self.config = cfg
        self.encoder = SequenceRNN(RNNConfig(
            cell="lstm", vocab_size=cfg.vocab_size, embed_dim=cfg.embed_dim, hidden_size=cfg.hidden_size,
            num_layers=cfg.num_layers, dropout=cfg.dropout, bidirectional=cfg.bidirectional))
        self.embed_drop = nn.Dropout(cfg.embed_dropout)
        self.drop = nn.Dropout(cfg.dropout)
        self.pool = AttentionPooling(self.encoder.out_features)
        self.head = nn.Linear(self.encoder.out_features, 1)

    def encode(self, e: torch.Tensor, lengths: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """(B, T, E) -> (B, T, H * directions)"""
        return self.encoder(None, lengths=lengths, embeddings=self.embed_drop(e))[0]


@dataclass
class TransformerClassifierConfig:
    vocab_size: int
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 1
    d_ff: int = 128
    dropout: float = 0.2
    max_len: int = 512

    def to_dict(self) -> dict:
        return asdict(self)


class TransformerClassifier(PooledClassifier):
    """Token embedding + sinusoidal positions -> pre-LN encoder blocks -> attention pooling -> logit.

    forward(ids (B, T) int64, lengths (B,) int64) -> (logits (B,), pooling weights (B, T)).
    `encoder` is the seqcore Transformer itself, so the attention explorer can run it directly.
    """

    def __init__(self, cfg: TransformerClassifierConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Transformer(TransformerConfig(
            d_model=cfg.d_model, n_heads=cfg.n_heads, n_layers=cfg.n_layers, d_ff=cfg.d_ff, dropout=cfg.dropout,
            causal=False, positions="sinusoidal", max_len=cfg.max_len, vocab_size=cfg.vocab_size))
        self.drop = nn.Dropout(cfg.dropout)
        self.pool = AttentionPooling(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, 1)

    def encode(self, e: torch.Tensor, lengths: torch.Tensor, pad: torch.Tensor) -> torch.Tensor:
        """(B, T, d_model) token embeddings -> (B, T, d_model); positions are added by the encoder."""
        return self.encoder(None, key_padding_mask=pad, embeddings=e).y
