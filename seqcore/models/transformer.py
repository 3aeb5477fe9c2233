"""Pre-LN Transformer blocks: self-attention (optionally causal), optional cross-attention, MLP.

attention(Q, K, V) = softmax(Q K^T / sqrt(d_k)) V. The fast path is F.scaled_dot_product_attention;
with return_attention=True the same formula is computed by hand so the weights can be returned
as (B, heads, T_q, T_k) per layer: explorers read outputs, they never hook a shared model.
A KVCache makes step-by-step decoding cost O(1) projections per new token.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class TransformerConfig:
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int | None = None          # default 4 * d_model
    dropout: float = 0.0
    causal: bool = False
    cross_attention: bool = False
    positions: str = "sinusoidal"    # sinusoidal | learned | none
    max_len: int = 512
    vocab_size: int | None = None    # token ids in
    input_size: int | None = None    # float features in (linear projection); neither: already d_model
    out_size: int | None = None      # linear head on every position; None returns hidden states
    bias: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


class TransformerOutput(NamedTuple):
    y: torch.Tensor                              # (B, T, out_size or d_model)
    attentions: list[torch.Tensor] | None        # per layer (B, H, T, T_k), self-attention
    cross_attentions: list[torch.Tensor] | None  # per layer (B, H, T, T_ctx), when cross-attending


@dataclass
class KVCache:
    """Keys and values of the tokens decoded so far, per layer, each (B, H, T_past, d_head)."""

    self_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = field(default_factory=list)
    cross_kv: list[tuple[torch.Tensor, torch.Tensor] | None] = field(default_factory=list)

    @property
    def length(self) -> int:
        return 0 if not self.self_kv or self.self_kv[0] is None else self.self_kv[0][0].shape[2]

    def select(self, index: torch.Tensor) -> KVCache:
        """A cache holding batch rows `index` (repeats allowed) of this one: beam search's reorder."""
        def pick(kvs):
            return [None if kv is None else (kv[0][index], kv[1][index]) for kv in kvs]

        return KVCache(self_kv=pick(self.self_kv), cross_kv=pick(self.cross_kv))


def sinusoidal_positions(max_len: int, d_model: int) -> torch.Tensor:
    """(max_len, d_model) table of sin/cos positions, as in 'Attention Is All You Need'."""
    pos = torch.arange(max_len, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * div)
    table[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
    return table


def attention_mask(
    t_q: int, t_k: int, *, causal: bool, offset: int = 0, key_padding_mask: torch.Tensor | None = None,
    device: torch.device | None = None,
) -> torch.Tensor | None:
    """Boolean mask, True where a query may attend: (T_q, T_k) or (B, 1, T_q, T_k); None if all may.

    Queries sit at positions offset .. offset + T_q - 1 (offset > 0 when a KV cache holds the past).
    key_padding_mask: (B, T_k), True marks padding keys.
    """
    allowed = None
    if causal and not (t_q == 1 and offset + 1 == t_k):
        q_pos = torch.arange(offset, offset + t_q, device=device)[:, None]
        allowed = torch.arange(t_k, device=device)[None, :] <= q_pos  # (T_q, T_k)
    if key_padding_mask is not None:
        keep = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, T_k)
        allowed = keep if allowed is None else keep & allowed
    return allowed


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by n_heads ({n_heads})")
        self.n_heads, self.d_head, self.dropout = n_heads, d_model // n_heads, dropout
        self.q = nn.Linear(d_model, d_model, bias=bias)
        self.k = nn.Linear(d_model, d_model, bias=bias)
        self.v = nn.Linear(d_model, d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)

    def split(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) -> (B, H, T, d_head)"""
        b, t, _ = x.shape
        return x.view(b, t, self.n_heads, self.d_head).transpose(1, 2)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        causal: bool = False,
        key_padding_mask: torch.Tensor | None = None,
        past_kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        reuse_kv: bool = False,
        return_attention: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[torch.Tensor, torch.Tensor]]:
        """x (B, T_q, C); context (B, T_ctx, C) for cross-attention, None for self-attention.

        past_kv: keys/values already computed; appended to (self) or reused as-is (reuse_kv, cross).
        Returns y (B, T_q, C), attention (B, H, T_q, T_k) or None, and the (k, v) to cache.
        """
        q = self.split(self.q(x))
        if reuse_kv and past_kv is not None:
            k, v = past_kv
        else:
            src = x if context is None else context
            k, v = self.split(self.k(src)), self.split(self.v(src))
            if past_kv is not None:
                k, v = torch.cat([past_kv[0], k], dim=2), torch.cat([past_kv[1], v], dim=2)
        t_q, t_k = q.shape[2], k.shape[2]
        offset = t_k - t_q if context is None else 0
        drop = self.dropout if self.training else 0.0
        att = None
        if return_attention:
            mask = attention_mask(t_q, t_k, causal=causal, offset=offset,
                                  key_padding_mask=key_padding_mask, device=x.device)
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(self.d_head)  # (B, H, T_q, T_k)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            att = torch.softmax(scores, dim=-1)
            y = F.dropout(att, drop, self.training) @ v
        elif causal and offset == 0 and key_padding_mask is None:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=drop, is_causal=True)
        else:
            mask = attention_mask(t_q, t_k, causal=causal, offset=offset,
                                  key_padding_mask=key_padding_mask, device=x.device)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=drop)
        b = x.shape[0]
        y = y.transpose(1, 2).reshape(b, t_q, -1)  # (B, T_q, C)
        return self.proj(y), att, (k, v)


class Block(nn.Module):
    """x + SelfAttn(LN(x)) [+ CrossAttn(LN(.), context)] + MLP(LN(.))"""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        d_ff = cfg.d_ff or 4 * cfg.d_model
        self.causal = cfg.causal
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout, cfg.bias)
        if cfg.cross_attention:
            self.ln_cross = nn.LayerNorm(cfg.d_model)
            self.cross = MultiHeadAttention(cfg.d_model, cfg.n_heads, cfg.dropout, cfg.bias)
        else:
            self.cross = None
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, d_ff, bias=cfg.bias),
            nn.GELU(),
            nn.Linear(d_ff, cfg.d_model, bias=cfg.bias),
            nn.Dropout(cfg.dropout),
        )

    def forward(self, x, context=None, *, key_padding_mask=None, context_padding_mask=None,
                cache: KVCache | None = None, layer: int = 0, return_attention=False):
        """x (B, T, d_model); context (B, T_ctx, d_model) when cross-attending; padding masks (B, T) and
        (B, T_ctx), True = pad. `cache` holds this block's keys/values under index `layer`.

        Returns (x (B, T, d_model), self-attention (B, H, T, T_past + T) or None, cross-attention
        (B, H, T, T_ctx) or None); the weights only with return_attention=True.
        """
        past = cache.self_kv[layer] if cache is not None else None
        h, att, kv = self.attn(self.ln1(x), causal=self.causal, key_padding_mask=key_padding_mask,
                               past_kv=past, return_attention=return_attention)
        if cache is not None:
            cache.self_kv[layer] = kv
        x = x + h
        cross_att = None
        if self.cross is not None:
            if context is None:
                raise ValueError("this Transformer cross-attends: pass a context")
            past = cache.cross_kv[layer] if cache is not None else None
            h, cross_att, kv = self.cross(self.ln_cross(x), context, key_padding_mask=context_padding_mask,
                                          past_kv=past, reuse_kv=True, return_attention=return_attention)
            if cache is not None:
                cache.cross_kv[layer] = kv
            x = x + h
        x = x + self.mlp(self.ln2(x))
        return x, att, cross_att


class Transformer(nn.Module):
    """Token / feature embedding + positions -> n pre-LN blocks -> final LayerNorm -> optional head.

    Input:  x (B, T) token ids, (B, T, input_size) features, or (B, T, d_model) when neither is set;
            or embeddings (B, T, d_model) in place of embed(x) (x None; positions are still added), e.g. for
            gradient x input saliency. context (B, T_ctx, d_model) when cross_attention; padding masks (B, T)
            with True = pad.
    Output: TransformerOutput(y (B, T, out_size | d_model), attentions, cross_attentions); the
            attention lists are filled only with return_attention=True.
    With cache=KVCache(), pass only the new tokens each call; positions continue from cache.length.
    """

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.config = cfg
        if cfg.vocab_size is not None:
            self.embed = nn.Embedding(cfg.vocab_size, cfg.d_model)
        elif cfg.input_size is not None:
            self.embed = nn.Linear(cfg.input_size, cfg.d_model)
        else:
            self.embed = nn.Identity()
        if cfg.positions == "learned":
            self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
        elif cfg.positions == "sinusoidal":
            self.register_buffer("pos_table", sinusoidal_positions(cfg.max_len, cfg.d_model), persistent=False)
            self.pos = None
        elif cfg.positions == "none":
            self.pos = None
        else:
            raise ValueError(f"positions must be sinusoidal, learned or none, got {cfg.positions!r}")
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.out_size) if cfg.out_size else None

    def new_cache(self) -> KVCache:
        n = self.config.n_layers
        return KVCache(self_kv=[None] * n, cross_kv=[None] * n)

    def embed_tokens(self, x: torch.Tensor | None, offset: int = 0,
                     embeddings: torch.Tensor | None = None) -> torch.Tensor:
        """Token embedding (or the given embeddings (B, T, d_model)) plus position: (B, T[, F]) -> (B, T, d_model)."""
        h = self.embed(x) if embeddings is None else embeddings
        t = h.shape[1]
        if offset + t > self.config.max_len:
            raise ValueError(f"sequence of {offset + t} positions exceeds max_len={self.config.max_len}")
        if self.config.positions == "learned":
            h = h + self.pos(torch.arange(offset, offset + t, device=h.device))
        elif self.config.positions == "sinusoidal":
            h = h + self.pos_table[offset: offset + t]
        return h

    def forward(self, x, context=None, *, key_padding_mask=None, context_padding_mask=None,
                cache: KVCache | None = None, return_attention: bool = False,
                embeddings: torch.Tensor | None = None) -> TransformerOutput:
        offset = cache.length if cache is not None else 0
        h = self.drop(self.embed_tokens(x, offset, embeddings))
        atts, cross_atts = [], []
        for i, block in enumerate(self.blocks):
            h, att, cross_att = block(h, context, key_padding_mask=key_padding_mask,
                                      context_padding_mask=context_padding_mask, cache=cache, layer=i,
                                      return_attention=return_attention)
            atts.append(att)
            cross_atts.append(cross_att)
        h = self.ln_f(h)
        y = self.head(h) if self.head is not None else h
        if not return_attention:
            return TransformerOutput(y, None, None)
        return TransformerOutput(y, atts, cross_atts if self.config.cross_attention else None)
