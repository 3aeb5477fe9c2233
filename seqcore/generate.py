"""Step-by-step decoding over any model with the start / step / reorder surface (seqcore.models.seq2seq).

    state = model.start(src)                      encode once
    log_probs, state = model.step(state, tokens)  tokens (B, 1) -> (B, V); RNN state or KV cache carried
    state = model.reorder(state, index)           keep batch rows `index` (beam search)

Beam search keeps the `beam` best partial translations by summed log-probability; a finished one is
ranked by its length-normalised score s / lp(len), lp = ((5 + len) / 6) ** alpha (GNMT, Wu et al. 2016),
so long translations are not punished for having more terms. beam = 1 is greedy decoding. A forced
prefix is scored like any other tokens and decoding continues from it. `tree` records, per step, every
candidate the search looked at and whether it was kept, finished or pruned: the page draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class Hypothesis:
    tokens: list[int]          # without <bos>; ends with <eos> when finished
    score: float               # summed log-probability
    finished: bool = False

    def normalized(self, alpha: float) -> float:
        return self.score / (((5 + len(self.tokens)) / 6) ** alpha)


@dataclass
class SearchResult:
    best: Hypothesis
    hypotheses: list[Hypothesis]              # finished (or, at max_len, alive) ones, best first
    tree: list[list[dict]] = field(default_factory=list)  # per step: {parent, token, score, status}


@torch.inference_mode()
def beam_search(model, src: torch.Tensor, *, bos: int, eos: int, beam: int = 4, max_len: int = 80,
                alpha: float = 0.6, prefix: list[int] | tuple[int, ...] = (), record: bool = False) -> SearchResult:
    """Translate one source src (1, S). Returns the best hypothesis (prefix included in its tokens)."""
    if src.shape[0] != 1:
        raise ValueError("beam_search decodes one source at a time: src must be (1, S)")
    beam = max(1, int(beam))
    state = model.start(src)
    device = src.device
    tokens, score = [], 0.0
    last = bos
    for p in prefix:  # forced tokens: scored, never searched
        log_probs, state = model.step(state, torch.tensor([[last]], device=device))
        score += float(log_probs[0, p])
        tokens.append(int(p))
        last = int(p)
    alive = [Hypothesis(tokens, score)]
    finished: list[Hypothesis] = []
    tree: list[list[dict]] = []
    for _ in range(max_len - len(tokens)):
        last_tokens = torch.tensor([[h.tokens[-1] if h.tokens else bos] for h in alive], device=device)
        log_probs, state = model.step(state, last_tokens)                 # (n, V)
        total = log_probs + torch.tensor([h.score for h in alive], device=device)[:, None]
        k = min(2 * beam, total.numel())
        top, flat = total.view(-1).topk(k)
        vocab = log_probs.shape[1]
        keep_rows, next_alive, step_log = [], [], []
        for rank, (s, f) in enumerate(zip(top.tolist(), flat.tolist(), strict=True)):
            parent, tok = divmod(f, vocab)
            h = Hypothesis(alive[parent].tokens + [tok], s)
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
    pool.sort(key=lambda h: h.normalized(alpha), reverse=True)
    return SearchResult(pool[0], pool, tree if record else [])
