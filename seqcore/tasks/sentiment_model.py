"""The sentiment model: a classifier network with its vocabulary, and how it reads a text.

  SentimentModel.predict(texts)   -> one dict per text: label, p_positive, n_tokens, truncated, unknown_tokens
  running_probability(text)       -> P(positive) after each token (the model on every prefix)
  explain(text)                   -> attention-pooling weights and gradient x input saliency per token
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqcore.data.words import Vocab, pad_batch, tokenize
from seqcore.errors import CheckpointError, InputError
from seqcore.models.classifier import (
    LSTMClassifier,
    LSTMClassifierConfig,
    TransformerClassifier,
    TransformerClassifierConfig,
)
from seqcore.tasks.sentiment_baselines import MAX_CHARS, check_texts, row

MAX_TOKENS = 256         # reviews are cut to their first MAX_TOKENS tokens (the page says so)
KINDS = ("lstm", "transformer")
# card["arch"] of each kind, and the network and config class that arch names
ARCHS = {"lstm": "bilstm-attention-pool", "transformer": "transformer-encoder-classifier"}
NETWORKS = {ARCHS["lstm"]: (LSTMClassifier, LSTMClassifierConfig),
            ARCHS["transformer"]: (TransformerClassifier, TransformerClassifierConfig)}
SIZES = {
    "tiny": {"lstm": {"embed_dim": 16, "hidden_size": 16}, "transformer": {"d_model": 16, "n_heads": 2, "d_ff": 32}},
    "small": {"lstm": {"embed_dim": 32, "hidden_size": 32}, "transformer": {"d_model": 32, "n_heads": 2, "d_ff": 64}},
    "medium": {"lstm": {"embed_dim": 64, "hidden_size": 64}, "transformer": {"d_model": 64, "n_heads": 4, "d_ff": 128}},
    "large": {"lstm": {"embed_dim": 128, "hidden_size": 128},
              "transformer": {"d_model": 128, "n_heads": 4, "d_ff": 256}},
}


def default_name(kind: str) -> str:
    return f"sentiment-{kind}"


def network(arch: str, config: dict) -> torch.nn.Module:
    """The classifier an arch name (a model card's `arch`) and its config dict describe."""
    if arch not in NETWORKS:
        raise CheckpointError(f"a {arch!r} is not a sentiment model (known: {', '.join(NETWORKS)})")
    cls, cfg_cls = NETWORKS[arch]
    return cls(cfg_cls(**config))


def classifier(kind: str, vocab_size: int, size: str = "small", max_tokens: int = MAX_TOKENS) -> torch.nn.Module:
    """An untrained classifier of `kind` and `size` (the Transformer's positions cover max_tokens)."""
    extra = {"max_len": max_tokens} if kind == "transformer" else {}
    return network(ARCHS[kind], {"vocab_size": vocab_size, **SIZES[size][kind], **extra})


@dataclass
class Encoded:
    tokens: list[str]   # the tokens the model reads (after truncation)
    ids: list[int]
    truncated: bool     # True when the text had more than max_tokens tokens (or MAX_CHARS characters)
    n_tokens: int       # tokens before truncation


def encode(vocab: Vocab, text: str, max_tokens: int = MAX_TOKENS) -> Encoded:
    cut = len(text) > MAX_CHARS
    toks = tokenize(text[:MAX_CHARS])
    kept = toks[:max_tokens]
    return Encoded(kept, vocab.encode(kept), cut or len(toks) > max_tokens, len(toks))


class SentimentModel:
    """A classifier with its vocabulary and model card. Read-only after construction: safe to share."""

    def __init__(self, net: torch.nn.Module, vocab: Vocab, card: dict | None = None, max_tokens: int = MAX_TOKENS):
        self.net = net.eval()
        self.vocab = vocab
        self.card = card if card is not None else {}
        self.max_tokens = max_tokens
        self.kind = "lstm" if isinstance(net, LSTMClassifier) else "transformer"

    @property
    def name(self) -> str:
        return self.card.get("name", default_name(self.kind))

    def encode(self, text: str) -> Encoded:
        """The tokens and ids this model reads of `text` (cut to its max_tokens)."""
        return encode(self.vocab, text, self.max_tokens)

    def _device(self) -> torch.device:
        return next(self.net.parameters()).device

    def _logits(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """ids (B, T), lengths (B,) -> P(positive) (B,) on the CPU, no gradients."""
        with torch.inference_mode():
            logits, _ = self.net(ids.to(self._device()), lengths.to(self._device()))
        return torch.sigmoid(logits.float()).cpu()

    def _probabilities(self, encoded: list[Encoded], batch_size: int = 64) -> np.ndarray:
        """P(positive) for already-encoded texts, (N,), batched by length."""
        out = np.zeros(len(encoded))
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        for start in range(0, len(order), batch_size):
            chunk = order[start: start + batch_size]
            out[chunk] = self._logits(*pad_batch([encoded[i].ids for i in chunk])).numpy()
        return out

    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """P(positive), (N,)."""
        return self._probabilities([self.encode(str(t)) for t in texts], batch_size)

    def predict(self, texts: Sequence[str], batch_size: int = 64) -> list[dict]:
        """One dict per text: label, p_positive, n_tokens, truncated. Empty texts raise InputError."""
        texts = check_texts(texts)
        encoded = [self.encode(t) for t in texts]
        probs = self._probabilities(encoded, batch_size)
        return [{**row(t, p), "n_tokens": e.n_tokens, "truncated": e.truncated, "unknown_tokens": e.ids.count(1)}
                for t, e, p in zip(texts, encoded, probs, strict=True)]

    def _words(self, text: str) -> Encoded:
        e = self.encode(text)
        if not e.ids:
            raise InputError("the text has no words to read: type a review")
        return e

    def running_probability(self, text: str, chunk: int = 64) -> tuple[list[str], np.ndarray]:
        """(tokens, p (T,)): P(positive) of the model reading only tokens[: t + 1], for each t.

        For the BiLSTM this is its state after token t through the pooling and head (the backward
        direction rerun on the prefix); for the Transformer, its prediction on each prefix. The last
        value is the model's prediction on the whole (truncated) text.
        """
        e = self._words(text)
        t = len(e.ids)
        ids = torch.tensor(e.ids).unsqueeze(0).expand(t, t)  # row i holds the text; length i + 1
        lengths = torch.arange(1, t + 1)
        probs = [self._logits(ids[s: s + chunk, : int(lengths[s: s + chunk].max())], lengths[s: s + chunk])
                 for s in range(0, t, chunk)]
        return e.tokens, torch.cat(probs).numpy()

    def explain(self, text: str) -> dict:
        """Per token: attention-pooling weight (sums to 1) and gradient x input saliency.

        Saliency is (d logit / d embedding) . embedding, summed over the embedding; positive values
        push towards "positive". Both are descriptive: neither is a causal explanation.
        """
        e = self._words(text)
        ids = torch.tensor([e.ids], device=self._device())
        lengths = torch.tensor([len(e.ids)], device=self._device())
        with torch.enable_grad():
            emb = self.net.embed(ids).detach().requires_grad_(True)  # (1, T, E)
            logit, weights = self.net.forward_embedded(emb, lengths)
            # autograd.grad, not backward(): the gradient goes to emb only, the shared model's .grad stays None
            (grad,) = torch.autograd.grad(logit.sum(), emb)
        saliency = (grad * emb).sum(-1)[0]
        return {"tokens": e.tokens, "attention": weights[0].detach().cpu().numpy(),
                "saliency": saliency.detach().cpu().numpy(), "p_positive": float(torch.sigmoid(logit).item()),
                "truncated": e.truncated}
