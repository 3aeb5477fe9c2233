"""The one step-by-step decoder: sampling from language models, greedy and beam search over seq2seq models.

Language models (music, the explorer's character model): LMStepper feeds tokens and returns the next
token's logits, carrying an RNN's state or a Transformer's KV cache (restarted from the last half context
when the window is full); filter_logits / next_distribution / sample_token do temperature, top-k and
nucleus (top-p) sampling.

Sequence-to-sequence models (translation, captioning) offer the start / step / reorder surface
(seqcore.models.seq2seq):

    state = model.start(src)                      encode once
    log_probs, state = model.step(state, tokens)  tokens (B, 1) -> (B, V); RNN state or KV cache carried
    state = model.reorder(state, index)           keep batch rows `index` (beam search)

Beam search keeps the `beam` best partial outputs by summed log-probability; a finished one is ranked by
its length-normalised score s / lp(len): length_norm "gnmt" lp = ((5 + len) / 6) ** alpha (Wu et al. 2016),
or "mean" lp = len (the mean log-probability per token), so long outputs are not punished for having more
terms. beam = 1 is greedy decoding. A forced prefix is scored like any other tokens and decoding continues
from it. `tree` records, per step, every candidate the search looked at and whether it was kept, finished
or pruned: the page draws it. `extras(state)` reads something per row after every step (a captioner's
attention over the image); each hypothesis keeps its own rows, one per token.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from seqcore.models.transformer import Transformer


class LMStepper:
    """Feeds tokens to a language model and returns next-token logits, carrying state or a KV cache.

    model: a seqcore Transformer (model(x, cache=...).y) or a recurrent LM (model(x, state) -> (logits, state)).
    context: the Transformer's window; when the cache would pass it, the cache restarts from the last
    context // 2 tokens (amortised O(1) per token instead of re-running a full window every step).
    """

    def __init__(self, model: torch.nn.Module, context: int):
        self.model, self.context = model, int(context)
        self.state, self.cache, self.history = None, None, []
        self.device = next(model.parameters()).device

    @torch.inference_mode()
    def feed(self, ids: list[int]) -> torch.Tensor:
        """ids: the new tokens; returns (V,) float logits for the token after them."""
        self.history.extend(ids)
        if isinstance(self.model, Transformer):
            if self.cache is None or self.cache.length + len(ids) > self.context:
                ids = self.history[-max(1, self.context // 2):]
                self.cache = self.model.new_cache()
            out = self.model(torch.tensor([ids], device=self.device), cache=self.cache).y
        else:
            out, self.state = self.model(torch.tensor([ids], device=self.device), self.state)
        return out[0, -1].float().cpu()


def filter_logits(logits: torch.Tensor, top_k: int | None = None, top_p: float | None = None) -> torch.Tensor:
    """(V,) logits with everything outside the top-k and the nucleus (smallest set of mass >= top_p) at -inf."""
    if top_k is not None and 0 < top_k < logits.numel():
        kth = torch.topk(logits, top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and 0 < top_p < 1:
        sorted_, order = torch.sort(logits, descending=True)
        probs = torch.softmax(sorted_, -1)
        drop = probs.cumsum(-1) - probs > top_p
        logits = logits.clone()
        logits[order[drop]] = float("-inf")
    return logits


def next_distribution(logits: torch.Tensor, *, temperature: float = 1.0, top_k: int | None = None,
                      top_p: float | None = None) -> torch.Tensor:
    """(V,) the distribution sampling draws from: softmax(filter(logits / temperature))."""
    return torch.softmax(filter_logits(logits / max(temperature, 1e-6), top_k, top_p), -1)


def sample_token(logits: torch.Tensor, generator: torch.Generator, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, probs: torch.Tensor | None = None) -> int:
    """One token id drawn from next_distribution(logits, ...) (or from `probs` already computed by it);
    temperature -> 0 approaches argmax."""
    if probs is None:
        probs = next_distribution(logits, temperature=temperature, top_k=top_k, top_p=top_p)
    return int(torch.multinomial(probs, 1, generator=generator))


LENGTH_NORMS = ("gnmt", "mean")


@dataclass
class Hypothesis:
    tokens: list[int]          # without <bos>; ends with <eos> when finished
    score: float               # summed log-probability
    finished: bool = False
    extras: list = field(default_factory=list)  # per token: its row of extras(state) at the step that chose it

    def normalized(self, alpha: float, length_norm: str = "gnmt") -> float:
        if length_norm == "mean":
            return self.score / max(1, len(self.tokens))
        return self.score / (((5 + len(self.tokens)) / 6) ** alpha)


@dataclass
class SearchResult:
    best: Hypothesis
    hypotheses: list[Hypothesis]              # finished (or, at max_len, alive) ones, best first
    tree: list[list[dict]] = field(default_factory=list)  # per step: {parent, token, score, status}


@torch.inference_mode()
def beam_search(model, src: torch.Tensor, *, bos: int, eos: int, beam: int = 4, max_len: int = 80,
                alpha: float = 0.6, length_norm: str = "gnmt", prefix: list[int] | tuple[int, ...] = (),
                record: bool = False, extras: Callable[[object], torch.Tensor] | None = None) -> SearchResult:
    """Decode one source src (1, ...): token ids (1, S), or an image (1, 3, H, W) for a captioner.

    Returns the best hypothesis (prefix included in its tokens). extras: state -> (n, ...) tensor, read after
    every step; hypotheses keep their rows in `extras`.
    """
    if src.shape[0] != 1:
        raise ValueError("beam_search decodes one source at a time: src must be (1, ...)")
    if length_norm not in LENGTH_NORMS:
        raise ValueError(f"length_norm must be one of {LENGTH_NORMS}, got {length_norm!r}")
    beam = max(1, int(beam))
    state = model.start(src)
    device = src.device
    tokens, score, rows = [], 0.0, []
    last = bos
    for p in prefix:  # forced tokens: scored, never searched
        log_probs, state = model.step(state, torch.tensor([[last]], device=device))
        score += float(log_probs[0, p])
        tokens.append(int(p))
        rows += [extras(state)[0]] if extras else []
        last = int(p)
    alive = [Hypothesis(tokens, score, extras=rows)]
    finished: list[Hypothesis] = []
    tree: list[list[dict]] = []
    for _ in range(max_len - len(tokens)):
        last_tokens = torch.tensor([[h.tokens[-1] if h.tokens else bos] for h in alive], device=device)
        log_probs, state = model.step(state, last_tokens)                 # (n, V)
        extra = extras(state) if extras else None                         # (n, ...)
        total = log_probs + torch.tensor([h.score for h in alive], device=device)[:, None]
        k = min(2 * beam, total.numel())
        top, flat = total.view(-1).topk(k)
        vocab = log_probs.shape[1]
        keep_rows, next_alive, step_log = [], [], []
        for rank, (s, f) in enumerate(zip(top.tolist(), flat.tolist(), strict=True)):
            parent, tok = divmod(f, vocab)
            h = Hypothesis(alive[parent].tokens + [tok], s,
                           extras=alive[parent].extras + [extra[parent]] if extra is not None else [])
            if tok == eos:
                # As in fairseq: an ending counts only if it ranks among the step's `beam` best candidates,
                # so beam = 1 is exactly greedy decoding.
                status = "finished" if rank < beam and len(finished) < beam else "pruned"
                if status == "finished":
                    h.finished = True
                    finished.append(h)
            elif len(next_alive) < beam:
                status = "kept"
                next_alive.append(h)
                keep_rows.append(parent)
            else:
                status = "pruned"
            if record:
                step_log.append({"parent": parent, "token": tok, "score": s, "status": status})
        tree.append(step_log)
        if not next_alive or len(finished) >= beam:
            break
        state = model.reorder(state, torch.tensor(keep_rows, device=device))
        alive = next_alive
    else:
        finished += alive  # max_len reached: unfinished hypotheses compete too
    pool = finished or alive
    pool.sort(key=lambda h: h.normalized(alpha, length_norm), reverse=True)
    return SearchResult(pool[0], pool, tree if record else [])
