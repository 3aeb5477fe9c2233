"""Folk tunes character by character: a char LSTM and a causal char Transformer.

Problem shape: many-to-many next-character prediction while training; one-to-many generation
(a prime in, a tune out). Both models map (B, T) character ids to (B, T, V) logits. Generation
carries the LSTM state, or the Transformer's KV cache, so each new character costs O(1) work in
the length so far. Quality is measured as bits per character on held-out tunes, beside a
5-gram baseline, and each generated tune gets the bar-length check of music_abc.bar_check.
"""

from __future__ import annotations

import io
import json
import math
import re
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from seqcore.checkpoints import (
    CheckpointInfo,
    find_checkpoint,
    load_checkpoint,
    load_weights,
    make_card,
    shared_load,
)
from seqcore.data.music import COLLECTIONS, SEP, TuneCorpus, clean_tune, join_tunes, load_corpus, split_tunes
from seqcore.errors import InputError
from seqcore.models import RNNConfig, SequenceRNN, Transformer, TransformerConfig
from seqcore.tasks.music_abc import bar_check
from seqcore.tasks.music_meter import MIN_TUNE_BARS, BarTracker, mask_for
from seqcore.train import Progress, TrainConfig, fit

TASK = "music"
KINDS = ("lstm", "transformer")
DEFAULT_CHECKPOINTS = {"lstm": "music-lstm", "transformer": "music-transformer"}
SCORE_WINDOW = 100  # characters per scoring window, the same for every model (the MIT lab's sequence length)
DEFAULT_TEMPERATURE = 0.8

# Model sizes. "mit" is the MIT 6.S191 lab 1 LSTM (embedding 256, one LSTM layer of 1024 units).
SIZES: dict[str, dict[str, dict]] = {
    "lstm": {
        "tiny": {"embed_dim": 16, "hidden_size": 32},
        "small": {"embed_dim": 64, "hidden_size": 256},
        "medium": {"embed_dim": 64, "hidden_size": 512},
        "mit": {"embed_dim": 256, "hidden_size": 1024},
    },
    "transformer": {
        "tiny": {"d_model": 32, "n_heads": 2, "n_layers": 1},
        "small": {"d_model": 128, "n_heads": 4, "n_layers": 2},
        "medium": {"d_model": 256, "n_heads": 4, "n_layers": 4},
    },
}


@dataclass
class CharLM:
    """A trained character model with its vocabulary. `model` maps (B, T) ids to (B, T, V) logits."""

    kind: str
    model: torch.nn.Module
    vocab: list[str]
    seq_len: int
    card: dict = field(default_factory=dict)

    def __post_init__(self):
        self.index = {c: i for i, c in enumerate(self.vocab)}

    @property
    def name(self) -> str:
        return self.card.get("name", self.kind)

    def encode(self, text: str) -> torch.Tensor:
        unknown = sorted({c for c in text if c not in self.index})
        if unknown:
            shown = ", ".join(repr(c) for c in unknown[:8])
            raise InputError(f"characters {shown} are not in this model's ABC vocabulary; remove them")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.vocab[int(i)] for i in ids)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) -> (B, T, V)"""
        return logits(self.model, x)


def logits(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    if isinstance(model, Transformer):
        return model(x).y
    return model(x)[0]


def build_model(kind: str, vocab_size: int, size: str = "small", seq_len: int = 256,
                dropout: float = 0.0) -> torch.nn.Module:
    if kind not in KINDS:
        raise InputError(f"model must be one of {', '.join(KINDS)}, got {kind!r}")
    if size not in SIZES[kind]:
        raise InputError(f"size for {kind} must be one of {', '.join(SIZES[kind])}, got {size!r}")
    spec = SIZES[kind][size]
    if kind == "lstm":
        return SequenceRNN(RNNConfig(cell="lstm", vocab_size=vocab_size, out_size=vocab_size, **spec))
    return Transformer(TransformerConfig(vocab_size=vocab_size, out_size=vocab_size, causal=True,
                                         positions="learned", max_len=max(seq_len, SCORE_WINDOW),
                                         dropout=dropout, **spec))


def model_from_card(card: dict) -> torch.nn.Module:
    cfg = card["config"]
    if cfg["kind"] == "lstm":
        return SequenceRNN(RNNConfig(**cfg["model"]))
    return Transformer(TransformerConfig(**cfg["model"]))


# ---- data --------------------------------------------------------------------------------

class CharWindows(Dataset):
    """Non-overlapping windows of a character stream: item i = (x (T,), y (T,)), y = x shifted by one."""

    def __init__(self, ids: torch.Tensor, seq_len: int):
        self.ids, self.seq_len = ids, seq_len
        self.n = max(0, (len(ids) - 1) // seq_len)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        s = i * self.seq_len
        chunk = self.ids[s: s + self.seq_len + 1]
        return chunk[:-1], chunk[1:]


def lm_loss(model: torch.nn.Module, batch) -> torch.Tensor:
    x, y = batch
    out = logits(model, x)
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


# ---- evaluation --------------------------------------------------------------------------

@torch.inference_mode()
def bits_per_char(lm: CharLM, text: str, window: int = SCORE_WINDOW, batch_size: int = 32) -> float:
    """Mean -log2 P(next char) over `text`, scored in windows of `window` chars (state reset per window)."""
    ids = lm.encode(SEP + SEP + text)
    data = CharWindows(ids, window)
    tail = len(ids) - 1 - len(data) * window  # the last partial window, scored too
    model = lm.model.eval()
    total, n = 0.0, 0
    for i in range(0, len(data), batch_size):
        x, y = zip(*(data[j] for j in range(i, min(len(data), i + batch_size))), strict=True)
        out = logits(model, torch.stack(x))
        total += float(F.cross_entropy(out.reshape(-1, out.shape[-1]), torch.stack(y).reshape(-1), reduction="sum"))
        n += sum(len(t) for t in y)
    if tail > 0:
        chunk = ids[len(data) * window:]
        out = logits(model, chunk[None, :-1])
        total += float(F.cross_entropy(out[0], chunk[1:], reduction="sum"))
        n += len(chunk) - 1
    return total / max(1, n) / math.log(2)


def tunes_from_text(text: str) -> list[str]:
    """Tunes of an ABC file (X: separated), cleaned like the corpus; a bare tune without X: counts as one."""
    raw = split_tunes(text) if re.search(r"^X:", text, re.M) else [text]
    tunes = [t for t in (clean_tune(r) for r in raw) if t]
    if not tunes:
        raise InputError("no tunes found: each tune needs a K: line followed by notes")
    return tunes


def score_abc(lm: CharLM, text: str) -> dict:
    """Bits per character of `lm` on the tunes of an ABC file's text (characters it never saw dropped)."""
    tunes = tunes_from_text(text)
    joined = join_tunes(tunes)
    kept = "".join(c for c in joined if c in lm.index)
    return {"bits_per_char": round(bits_per_char(lm, kept), 4), "n_chars": len(kept), "n_tunes": len(tunes),
            "dropped_chars": len(joined) - len(kept), "model": lm.name}


# ---- generation --------------------------------------------------------------------------

NOTE_LETTERS = set("ABCDEFGabcdefgzxZ")
DECORATION_LETTERS = set("HJLMOPRSTuvy")


def check_prime(lm: CharLM, prime: str) -> str:
    """The prime, normalised; InputError when it cannot be the start of an ABC tune."""
    prime = (prime or "").replace("\r\n", "\n").replace("\t", " ")
    if len(prime) > 2000:
        raise InputError("the prime is longer than 2,000 characters: give the start of a tune")
    body = "\n".join(line for line in prime.split("\n") if not re.match(r"^[A-Za-z]:", line))
    strange = sorted({c for c in body if c.isalpha() and c not in NOTE_LETTERS | DECORATION_LETTERS})
    if strange:
        raise InputError(f"the prime does not read as ABC: letters {', '.join(strange)} are not notes "
                         "(use A-G, a-g, z for rests, and header lines like M:6/8, K:D)")
    lm.encode(prime)  # raises on characters the model never saw
    return prime


def _filter(logits_: torch.Tensor, top_k: int | None, top_p: float | None) -> torch.Tensor:
    """(V,) logits with everything outside the top-k / nucleus set to -inf."""
    if top_k is not None and 0 < top_k < logits_.numel():
        kth = torch.topk(logits_, top_k).values[-1]
        logits_ = logits_.masked_fill(logits_ < kth, float("-inf"))
    if top_p is not None and 0 < top_p < 1:
        sorted_, order = torch.sort(logits_, descending=True)
        cum = torch.softmax(sorted_, -1).cumsum(-1)
        drop = cum - torch.softmax(sorted_, -1) > top_p  # keep the smallest set whose mass reaches top_p
        logits_ = logits_.clone()
        logits_[order[drop]] = float("-inf")
    return logits_


@dataclass
class Generation:
    abc: str             # prime + generated characters
    prime: str
    n_new: int
    seconds: float
    ended: bool          # the model closed the tune itself (blank line)
    constrained: bool = False  # meter-aware decoding was on
    bars_matching: int = 0     # bar_check on the whole tune: bars whose length fits the meter ...
    bars_total: int = 0        # ... of the bars that hold notes

    @property
    def chars_per_second(self) -> float:
        return self.n_new / max(1e-9, self.seconds)


class _Stepper:
    """Feeds characters to a model and returns next-character logits, carrying state or a KV cache."""

    def __init__(self, lm: CharLM):
        self.lm, self.state, self.cache, self.history = lm, None, None, []
        self.ctx = lm.seq_len
        self.device = next(lm.model.parameters()).device

    def feed(self, ids: list[int]) -> torch.Tensor:
        """ids: new characters; returns (V,) logits for the character after them."""
        self.history.extend(ids)
        model = self.lm.model
        if isinstance(model, Transformer):
            if self.cache is None or self.cache.length + len(ids) > self.ctx:
                # The context is full: restart the cache from the last half context (amortised O(1)).
                keep = self.history[-max(1, self.ctx // 2):]
                self.cache = model.new_cache()
                ids = keep
            out = model(torch.tensor([ids], device=self.device), cache=self.cache).y
        else:
            out, self.state = model(torch.tensor([ids], device=self.device), self.state)
        return out[0, -1].float().cpu()


@torch.inference_mode()
def generate(lm: CharLM, prime: str = "", length: int = 400, temperature: float = 1.0,
             top_k: int | None = None, top_p: float | None = None, seed: int = 0,
             stop_at_end: bool = True, constrain: bool = True) -> Generation:
    """Sample up to `length` characters after `prime`; the same seed gives the same tune.

    constrain: meter-aware decoding (music_meter). Before each character, the characters that would
    overfill the bar, close it early (all but a pick-up first bar), break the ABC grammar, or end the
    tune before it has MIN_TUNE_BARS whole bars get probability 0, so the model's distribution is
    renormalised over the allowed continuations; when nothing is allowed (a prime that cannot be
    completed), nothing is masked. False: the raw model.
    """
    if not 1 <= length <= 5000:
        raise InputError("length must be between 1 and 5,000 characters")
    if not 0.05 <= temperature <= 5:
        raise InputError("temperature must be between 0.05 and 5")
    prime = check_prime(lm, prime)
    lm.model.eval()
    gen = torch.Generator().manual_seed(int(seed))
    t0 = time.perf_counter()
    step = _Stepper(lm)
    out = step_out = step.feed(lm.encode(SEP + SEP + prime).tolist())
    new: list[int] = []
    last = prime[-1:] if prime else SEP
    ended = False
    sep_id = lm.index[SEP]
    wrote_notes = False
    tracker = BarTracker(prime, min_bars=MIN_TUNE_BARS) if constrain else None
    mask = mask_for("".join(lm.vocab)) if constrain else None
    for _ in range(length):
        if tracker is not None:
            banned = mask.banned(tracker)
            if banned is not None:
                out = out.clone()
                out[banned] = float("-inf")
        if last == SEP and not wrote_notes:
            out = out.clone()
            out[sep_id] = float("-inf")  # a blank line would end the tune before it has begun
            if tracker is not None and torch.isinf(out).all():
                out = step_out.clone()
                out[sep_id] = float("-inf")
        probs = torch.softmax(_filter(out / temperature, top_k, top_p), -1)
        nxt = int(torch.multinomial(probs, 1, generator=gen))
        new.append(nxt)
        if stop_at_end and nxt == sep_id and last == SEP:
            ended = True
            break
        last = lm.vocab[nxt]
        wrote_notes = wrote_notes or last in NOTE_LETTERS
        if tracker is not None:
            tracker.push(last)
        out = step_out = step.feed([nxt])
    text = prime + lm.decode(new)
    if ended:
        text = text.rstrip("\n") + "\n"
    seconds = time.perf_counter() - t0
    bars = bar_check(text)
    return Generation(text, prime, len(new), seconds, ended, constrain, bars.matching, bars.bars)


# ---- training ----------------------------------------------------------------------------

@dataclass
class Sample:
    """A short tune sampled during training, reported beside the loss records."""

    step: int
    text: str


def train_music(kind: str = "lstm", size: str = "small", *, collections=COLLECTIONS, seq_len: int = 100,
                config: TrainConfig | None = None, dropout: float = 0.0, sample_every: int | None = None,
                on_progress: Callable | None = None, stop=None, corpus: TuneCorpus | None = None,
                device: torch.device | None = None, max_train_chars: int | None = None) -> tuple[CharLM, dict]:
    """Train a char model with early stopping on held-out tunes; returns (model, report dict).

    sample_every: evaluations between samples sent to on_progress (as Sample records).
    max_train_chars: use only the first N training characters (tiny runs from tests and the page).
    """
    corpus = corpus or load_corpus(tuple(collections))
    cfg = config or TrainConfig()
    torch.manual_seed(cfg.seed)
    model = build_model(kind, len(corpus.vocab), size, seq_len, dropout)
    lm = CharLM(kind, model, corpus.vocab, seq_len)
    train_text = join_tunes(corpus.train)
    if max_train_chars:
        train_text = train_text[:max_train_chars]
    train = CharWindows(lm.encode(SEP + SEP + train_text), seq_len)
    val = CharWindows(lm.encode(SEP + SEP + join_tunes(corpus.val)), seq_len)
    evals = 0

    def report(p: Progress):
        nonlocal evals
        if on_progress is not None:
            on_progress(p)
        evals += 1
        if sample_every and on_progress is not None and evals % sample_every == 0:
            was = model.training
            model.eval()
            on_progress(Sample(p.step, generate(lm, "", length=200, temperature=0.8, seed=p.step).abc))
            model.train(was)

    result = fit(model, lm_loss, train, val, cfg, on_progress=report, stop=stop, device=device)
    model.cpu().eval()
    n_params = sum(p.numel() for p in model.parameters())
    lm.card = {"name": f"music-{kind}-{size}", "task": TASK, "arch": f"char-{kind}",
               "config": model_config(lm, size)}
    report_ = {"train": result.to_dict(), "n_params": n_params, "size": size,
               "val_bits_per_char": round(result.best_val_loss / math.log(2), 4) if result.best_val_loss else None}
    return lm, report_


def model_config(lm: CharLM, size: str) -> dict:
    return {"kind": lm.kind, "size": size, "seq_len": lm.seq_len, "vocab": "".join(lm.vocab),
            "model": lm.model.config.to_dict()}


# ---- checkpoints -------------------------------------------------------------------------

def lm_from_state(state: dict, card: dict, name: str = "checkpoint") -> CharLM:
    cfg = card["config"]
    model = model_from_card(card)
    load_weights(model, {k: v.float() for k, v in state.items()}, name)
    model.eval()
    return CharLM(cfg["kind"], model, list(cfg["vocab"]), int(cfg["seq_len"]), card)


def lm_from_info(info: CheckpointInfo) -> CharLM:
    state, card = load_checkpoint(info.stem)
    return lm_from_state(state, card, info.name)


def load_lm(name_or_kind: str = "lstm") -> CharLM:
    """A registry checkpoint by name, or the shipped default for 'lstm' / 'transformer'."""
    name = DEFAULT_CHECKPOINTS.get(name_or_kind, name_or_kind)
    return lm_from_info(find_checkpoint(name, TASK))


def export_zip(lm: CharLM) -> bytes:
    """The model as a zip of NAME.safetensors + NAME.json (what save_checkpoint writes)."""
    from safetensors.torch import save as st_save

    tensors = {k: v.detach().cpu().to(torch.float16).contiguous().clone() for k, v in lm.model.state_dict().items()}
    buf = io.BytesIO()
    name = lm.name
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.safetensors", st_save(tensors, metadata={"task": TASK, "arch": lm.card.get("arch", "")}))
        z.writestr(f"{name}.json", json.dumps({**lm.card, "dtype": "float16"}, indent=2, default=str))
    return buf.getvalue()


def build_card(lm: CharLM, corpus: TuneCorpus, report: dict, metrics: dict, cfg: TrainConfig, device: str,
               **fields) -> dict:
    return make_card(TASK, lm.card["arch"], lm.card["config"], data=corpus.card(), metrics=metrics,
                     train_seconds=round(report["train"]["seconds"], 1), device=device,
                     hyperparameters={**cfg.to_dict(), "size": report["size"], "n_params": report["n_params"]},
                     training=report["train"], **fields)


# ---- the attention explorer's view -------------------------------------------------------

def attention_probe(info: CheckpointInfo, text: str | None):
    """Char-level probe of a music Transformer: any text the vocabulary covers (default: a tune's start)."""
    from seqcore.tasks.probe import AttentionProbe

    lm = shared_load(lm_from_info, info)  # loaded once per file version: a new text costs no reload
    if not isinstance(lm.model, Transformer):
        raise InputError(f"{info.name} is not a Transformer")
    text = text if text else "M:6/8\nL:1/8\nK:D\n|:A|dfa agf|gfe fed|"
    note = ""
    keep = sorted({c for c in text if c not in lm.index})
    if keep:
        text = "".join(c for c in text if c in lm.index)
        note = f"removed characters the model never saw: {', '.join(repr(c) for c in keep[:8])}"
    if not text:
        raise InputError("no characters left that the model knows: type some ABC notation")
    if len(text) > lm.seq_len:
        text = text[: lm.seq_len]
        note = (note + "; " if note else "") + f"cut to the first {lm.seq_len} characters (the model's context)"
    tokens = ["\u23ce" if c == "\n" else ("\u2423" if c == " " else c) for c in text]
    return AttentionProbe(model=lm.model, x=lm.encode(text)[None, :], tokens=tokens, note=note)
