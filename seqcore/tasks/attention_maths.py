"""The attention explorer's maths, for any seqcore Transformer behind an AttentionProbe.

Everything is recomputed from the model's own modules (embed_tokens, block.ln1, block.attn.q/k/v,
split, proj), never hooked: a step-through of one head follows the lecture's formula

    attention(Q, K, V) = softmax(Q K^T / sqrt(d_k) [+ causal mask]) V

and `verify` checks it against what the model itself returns. Shapes: T query tokens, T_k keys
(T_k = T for self-attention, T_ctx for cross-attention), C = d_model, d_k = C / heads.
Matrices come back as float32 numpy arrays so pages and the CLI can draw or print them directly.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch

from seqcore.errors import InputError
from seqcore.models.transformer import Block, attention_mask
from seqcore.tasks.probe import AttentionProbe

__all__ = ["ModelAttention", "HeadSteps", "NeuronView", "token_labels", "key_tokens", "run_model", "step_through",
           "verify", "neuron_view", "head_average", "rollout", "keep_indices", "hide_tokens", "head_view_lines",
           "matrix_csv", "attention_report"]


def token_labels(tokens: list[str]) -> list[str]:
    """Unique axis labels 'i:token' (plotly merges equal category labels; repeated letters are common)."""
    shown = {" ": "␣", "\n": "⏎", "\t": "⇥"}
    return [f"{i}:{shown.get(t, t)}" for i, t in enumerate(tokens)]


def key_tokens(probe: AttentionProbe, kind: str) -> list[str]:
    if kind == "self":
        return probe.tokens
    n = probe.context.shape[1]
    return probe.context_tokens or [f"ctx{j}" for j in range(n)]


@dataclass
class ModelAttention:
    """What the model returns with return_attention=True, batch dimension dropped."""

    self_attention: list[np.ndarray]          # per layer (H, T, T)
    cross_attention: list[np.ndarray] | None  # per layer (H, T, T_ctx) when the model cross-attends


def run_model(probe: AttentionProbe) -> ModelAttention:
    with torch.inference_mode():
        out = probe.model(probe.x, probe.context, return_attention=True)
    cross = [a[0].float().numpy() for a in out.cross_attentions] if out.cross_attentions else None
    return ModelAttention([a[0].float().numpy() for a in out.attentions], cross)


@dataclass
class HeadSteps:
    """Every intermediate of one head in one layer, for one input (batch of 1 dropped)."""

    layer: int
    head: int
    kind: str                        # self | cross
    temperature: float
    d_k: int
    tokens: list[str]                # T query labels
    key_tokens: list[str]            # T_k key labels
    token_embeddings: np.ndarray     # (T, C) embed(x): token table rows or projected features
    positions: np.ndarray | None     # (T, C) added position vectors; None when the model has none
    layer_input: np.ndarray          # (T, C) residual stream entering the layer (= embeddings + positions at 0)
    normed: np.ndarray               # (T, C) LayerNorm of what the queries are made from
    q: np.ndarray                    # (T, d_k)
    k: np.ndarray                    # (T_k, d_k)
    v: np.ndarray                    # (T_k, d_k)
    scores: np.ndarray               # (T, T_k) Q K^T
    scaled: np.ndarray               # (T, T_k) Q K^T / sqrt(d_k)
    allowed: np.ndarray | None       # (T, T_k) bool, False where the causal mask forbids; None: no mask
    masked: np.ndarray               # (T, T_k) scaled with -inf where not allowed
    weights: np.ndarray              # (T, T_k) softmax(masked / temperature); rows sum to 1
    output: np.ndarray               # (T, d_k) weights @ V: this head's output before the output projection


def _layer_inputs(probe: AttentionProbe, layer: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(embed(x), positions or None, residual stream entering `layer`), each (1, T, C)."""
    model = probe.model
    emb = model.embed(probe.x)
    h = model.embed_tokens(probe.x)
    pos = None if model.config.positions == "none" else h - emb
    for block in model.blocks[:layer]:
        h, _, _ = block(h, probe.context)
    return emb, pos, h


def _check_indices(probe: AttentionProbe, layer: int, head: int, kind: str) -> Block:
    cfg = probe.model.config
    if not 0 <= layer < cfg.n_layers:
        raise InputError(f"layer must be 0..{cfg.n_layers - 1}, got {layer}")
    if not 0 <= head < cfg.n_heads:
        raise InputError(f"head must be 0..{cfg.n_heads - 1}, got {head}")
    if kind not in ("self", "cross"):
        raise InputError(f"kind must be self or cross, got {kind!r}")
    block = probe.model.blocks[layer]
    if kind == "cross" and (block.cross is None or probe.context is None):
        raise InputError("this model has no cross-attention (or the probe has no context)")
    return block


def _qkv_input(block: Block, h: torch.Tensor, context: torch.Tensor | None, kind: str):
    """(what queries are made from after LayerNorm, what keys/values are made from, the module)."""
    if kind == "self":
        x = block.ln1(h)
        return x, x, block.attn
    mid = h + block.attn(block.ln1(h), causal=block.causal)[0]  # the self-attention sub-layer first
    return block.ln_cross(mid), context, block.cross


def step_through(probe: AttentionProbe, layer: int = 0, head: int = 0, *, temperature: float = 1.0,
                 kind: str = "self") -> HeadSteps:
    """Recompute one head step by step; with temperature 1 the weights are the model's own."""
    if not (temperature > 0 and math.isfinite(temperature)):
        raise InputError(f"temperature must be a positive number, got {temperature}")
    block = _check_indices(probe, layer, head, kind)
    with torch.inference_mode():
        emb, pos, h = _layer_inputs(probe, layer)
        xq, src, mha = _qkv_input(block, h, probe.context, kind)
        q = mha.split(mha.q(xq))[0, head]   # (T, d_k)
        k = mha.split(mha.k(src))[0, head]  # (T_k, d_k)
        v = mha.split(mha.v(src))[0, head]
        scores = q @ k.T
        scaled = scores / math.sqrt(mha.d_head)
        allowed = attention_mask(q.shape[0], k.shape[0], causal=block.causal) if kind == "self" else None
        masked = scaled if allowed is None else scaled.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(masked / temperature, dim=-1)
        output = weights @ v
    f = lambda t: t.detach().float().numpy().squeeze(0) if t.dim() == 3 else t.detach().float().numpy()  # noqa: E731
    return HeadSteps(
        layer=layer, head=head, kind=kind, temperature=temperature, d_k=mha.d_head, tokens=probe.tokens,
        key_tokens=key_tokens(probe, kind), token_embeddings=f(emb), positions=None if pos is None else f(pos),
        layer_input=f(h), normed=f(xq), q=f(q), k=f(k), v=f(v), scores=f(scores), scaled=f(scaled),
        allowed=None if allowed is None else allowed.numpy(), masked=f(masked), weights=f(weights), output=f(output),
    )


def verify(probe: AttentionProbe, layer: int = 0, kind: str = "self") -> dict[str, float]:
    """Largest differences between the step-through and the model's own computation for one layer.

    weights: every head's step-through softmax vs the attention the model returns.
    output: the heads' weighted sums, concatenated and projected, vs the attention module's output.
    """
    block = _check_indices(probe, layer, 0, kind)
    heads = [step_through(probe, layer, h, kind=kind) for h in range(probe.model.config.n_heads)]
    ours = np.stack([s.weights for s in heads])  # (H, T, T_k)
    got = run_model(probe)
    model_att = (got.self_attention if kind == "self" else got.cross_attention)[layer]
    with torch.inference_mode():
        _, _, h = _layer_inputs(probe, layer)
        xq, src, mha = _qkv_input(block, h, probe.context, kind)
        module_out = mha(xq, None if kind == "self" else src, causal=block.causal if kind == "self" else False)[0]
        concat = torch.from_numpy(np.concatenate([s.output for s in heads], axis=-1))[None]
        ours_out = mha.proj(concat)
    return {"weights": float(np.abs(ours - model_att).max()), "output": float((ours_out - module_out).abs().max())}


@dataclass
class NeuronView:
    """For one query token: q, each key k, q*k elementwise, q.k, scaled, softmax."""

    query: int
    q: np.ndarray          # (d_k,)
    k: np.ndarray          # (T_k, d_k)
    qk: np.ndarray         # (T_k, d_k) q * k elementwise; its rows sum to q.k
    dot: np.ndarray        # (T_k,) q . k
    scaled: np.ndarray     # (T_k,) q . k / sqrt(d_k), -inf where masked
    weights: np.ndarray    # (T_k,) softmax at the step-through's temperature


def neuron_view(steps: HeadSteps, query: int) -> NeuronView:
    if not 0 <= query < len(steps.tokens):
        raise InputError(f"query token must be 0..{len(steps.tokens) - 1}, got {query}")
    q = steps.q[query]
    qk = steps.k * q[None, :]
    return NeuronView(query, q, steps.k, qk, qk.sum(-1), steps.masked[query], steps.weights[query])


def head_average(att: np.ndarray) -> np.ndarray:
    """(H, T, T_k) -> (T, T_k), the mean over heads (still row-stochastic)."""
    return att.mean(axis=0)


def rollout(layers: list[np.ndarray], residual: float = 0.5) -> np.ndarray:
    """Attention rollout (Abnar & Zuidema, 2020) over head-averaged (T, T) self-attention per layer.

    Each layer mixes in the residual connection, A' = (1 - r) A + r I, renormalised by rows; the
    rollout is A'_L ... A'_1, how much each input token flows into each position at the top.
    """
    if not layers:
        raise InputError("rollout needs at least one layer")
    out = None
    for a in layers:
        a = (1 - residual) * a + residual * np.eye(a.shape[-1], dtype=a.dtype)
        a = a / a.sum(axis=-1, keepdims=True)
        out = a if out is None else a @ out
    return out


def keep_indices(special: list[bool] | None, n: int, hide: bool) -> list[int]:
    """Indices to show: all, or those not flagged special/padding when hiding."""
    if not hide or special is None:
        return list(range(n))
    keep = [i for i in range(n) if not special[i]]
    return keep or list(range(n))  # a probe that is all special tokens shows everything


def hide_tokens(matrix: np.ndarray, rows: list[int], cols: list[int], renormalize: bool = True) -> np.ndarray:
    """(..., T, T_k) -> (..., len(rows), len(cols)); renormalise so shown rows sum to 1 again."""
    sub = matrix[..., rows, :][..., cols]
    if renormalize:
        total = sub.sum(axis=-1, keepdims=True)
        sub = np.divide(sub, total, out=np.zeros_like(sub), where=total > 0)
    return sub


def head_view_lines(att: np.ndarray, heads: list[int], query: int | None = None,
                    min_weight: float = 0.02) -> list[tuple[int, int, int, float]]:
    """(head, query i, key j, weight) for each drawn line of the head view; att (H, T, T_k)."""
    lines = []
    for h in heads:
        rows = range(att.shape[1]) if query is None else [query]
        for i in rows:
            for j in np.flatnonzero((att[h, i] >= min_weight) & (att[h, i] > 0)):
                lines.append((h, i, int(j), float(att[h, i, j])))
    return lines


def matrix_csv(matrix: np.ndarray, row_labels: list[str] | None = None, col_labels: list[str] | None = None) -> str:
    """A 1-D or 2-D matrix as CSV text with labelled rows and columns (-inf written as -inf)."""
    import pandas as pd

    m = np.atleast_2d(matrix)
    rows = row_labels if row_labels is not None else [str(i) for i in range(m.shape[0])]
    cols = col_labels if col_labels is not None else [str(j) for j in range(m.shape[1])]
    buf = io.StringIO()
    pd.DataFrame(m, index=rows, columns=cols).to_csv(buf, float_format="%.6g")
    return buf.getvalue()


def attention_report(model: str | None, text: str | None, digits: int = 4) -> dict:
    """The CLI's JSON: tokens and, per layer, a heads x T x T list of weights (plus cross-attention).

    model: a checkpoint name; None: the explorer's own model with the best held-out score.
    """
    from seqcore.tasks.attention import best_name
    from seqcore.tasks.probe import probe_for, transformer_checkpoints

    name = model or best_name()
    found = [c for c in transformer_checkpoints() if c.name == name]
    if not found:
        names = ", ".join(sorted({c.name for c in transformer_checkpoints()})) or "none yet"
        raise InputError(f"no Transformer checkpoint named {name!r}; available: {names}")
    probe = probe_for(found[0], text)
    got = run_model(probe)
    out = {"model": name, "task": found[0].task, "tokens": probe.tokens, "special": probe.special,
           "note": probe.note, "layers": [np.round(a, digits).tolist() for a in got.self_attention]}
    if got.cross_attention is not None:
        out["context_tokens"] = key_tokens(probe, "cross")
        out["cross_layers"] = [np.round(a, digits).tolist() for a in got.cross_attention]
    return out
