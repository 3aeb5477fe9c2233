"""Additive (Bahdanau) attention: a small feed-forward network scores each key against a query.

    e_ti = v^T tanh(W_k k_i + W_q q_t),   alpha_t = softmax_i(e_ti)   (masked keys get no weight)
The keys are projected once per sequence (`project`), then every query reuses the projection.
With no query (d_query=None) it is attention pooling with one learned query vector q: W_q q would be a
constant added to every key, which the key projection's bias already learns, so the bias is the query.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class AdditiveAttention(nn.Module):
    """keys (B, S, K) -> project -> (B, S, A); queries (B, T, Q) or (B, Q) -> alpha (B, T, S) or (B, S).

    d_query=None: no query input (pooling); forward(keys_proj, None, mask) -> alpha (B, S).
    """

    def __init__(self, d_key: int, d_query: int | None, d_att: int):
        super().__init__()
        self.key = nn.Linear(d_key, d_att)
        self.query = nn.Linear(d_query, d_att, bias=False) if d_query is not None else None
        self.score = nn.Linear(d_att, 1, bias=False)

    def project(self, keys: torch.Tensor) -> torch.Tensor:
        return self.key(keys)

    def forward(self, keys_proj: torch.Tensor, query: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """keys_proj (B, S, A) from project(); key_padding_mask (B, S), True = padding. Rows of the result sum to 1."""
        if (query is None) != (self.query is None):
            raise ValueError("pass a query exactly when the module was built with d_query")
        if query is None:  # pooling: the learned query lives in the key projection's bias
            single = True
            e = self.score(torch.tanh(keys_proj)).squeeze(-1)[:, None]                # (B, 1, S)
        else:
            single = query.dim() == 2
            q = self.query(query[:, None] if single else query)                       # (B, T, A)
            e = self.score(torch.tanh(keys_proj[:, None] + q[:, :, None])).squeeze(-1)  # (B, T, S)
        if key_padding_mask is not None:
            e = e.masked_fill(key_padding_mask[:, None, :], float("-inf"))
        alpha = torch.softmax(e, dim=-1)
        return alpha[:, 0] if single else alpha
