"""Image captioning: the lecture's one-to-many problem shape, on synthetic scenes and handwritten digits.

An image becomes a grid of N = 8x8 feature vectors; a decoder (LSTM with additive attention, or a
Transformer) writes the caption one word at a time, attending over the grid at each word. Scores on freshly
generated held-out scenes: BLEU-4, exact match and attention localisation, beside the nearest-neighbour
caption baseline (seqcore.tasks.caption_scores).

The task protocol (seqcore.tasks) over Captioner models, and the task's own operations: page_config,
default_name and, re-exported, the data (DATASETS, TEST_SEED, make_scene: caption_data), decoding
(caption_images, Caption: caption_decode) and upload handling (preprocess_upload, overlay: caption_upload).
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

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
from seqcore.data import scenes
from seqcore.errors import CheckpointError, InputError
from seqcore.models.captioner import DECODERS, Captioner, CaptionerConfig
from seqcore.tasks.caption_data import (
    BOS,
    DATASETS,
    MAX_LEN,
    PAD,
    SPECIALS,
    STOI,
    TEST_SEED,
    VOCAB,
    CaptionData,
    encode,
    image_tensor,
    make_scene,
    make_scenes,
)
from seqcore.tasks.caption_decode import Caption, caption_images
from seqcore.tasks.caption_scores import bleu4, localisation, nearest_neighbour_captions
from seqcore.tasks.caption_upload import overlay, preprocess_upload
from seqcore.train import TrainConfig, fit

__all__ = ["TASK", "Config", "tiny_config", "build", "train", "save", "load", "best_name", "evaluate",
           "attention_probe", "page_config", "default_name", "DATASETS", "DECODERS", "TEST_SEED", "make_scene",
           "Caption", "caption_images", "preprocess_upload", "overlay"]

TASK = "caption"
ALPHA_C = 0.1      # default weight of the doubly stochastic penalty (see caption_loss)
EVAL_N = 500       # held-out scenes behind a model card's metrics
SOURCES = {
    "shapes": "synthetic Pillow scenes (seqcore.data.scenes): 1-2 shapes, grey noisy background, jitter",
    "digits": "scikit-learn's bundled 8x8 handwritten digits, 2-5 per image, disjoint train/test scans",
}


@dataclass
class CaptionConfig:
    """Everything that decides a captioner: decoder, sizes, scenes, the training run and its held-out scoring."""

    decoder: str = "lstm"         # lstm | transformer
    dataset: str = "shapes"       # shapes | digits
    split: str = "iid"            # iid | compositional (shapes only)
    n_train: int = 6000
    n_val: int = 500
    epochs: int = 12
    batch_size: int = 64
    lr: float = 3e-3
    seed: int = 0
    time_budget_s: float | None = None
    alpha_c: float = ALPHA_C
    patience: int | None = 4      # validations without improvement before stopping; None trains every epoch
    eval_n: int = EVAL_N          # held-out scenes scored into the model card; 0 = none
    model: dict = field(default_factory=dict)  # CaptionerConfig overrides

    def check(self) -> None:
        if self.decoder not in DECODERS:
            raise InputError(f"model must be one of {DECODERS}, got {self.decoder!r}")
        if self.dataset not in DATASETS:
            raise InputError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.split not in scenes.SPLITS:
            raise InputError(f"split must be one of {scenes.SPLITS}, got {self.split!r}")
        _check_split(self.dataset, self.split, "choose the shapes dataset or the iid split")
        if not 10 <= self.n_train <= 50_000:
            raise InputError("n_train must be between 10 and 50,000 scenes")
        if not 1 <= self.epochs <= 200:
            raise InputError("epochs must be between 1 and 200")
        if not 0 <= self.eval_n <= 20_000:
            raise InputError("eval_n must be between 0 and 20,000 scenes")

    def model_config(self) -> CaptionerConfig:
        return CaptionerConfig(decoder=self.decoder, vocab_size=len(VOCAB), max_len=MAX_LEN, **self.model)

    def to_dict(self) -> dict:
        return asdict(self)


Config = CaptionConfig


def _check_split(dataset: str, split: str, then: str) -> None:
    if split == "compositional" and dataset != "shapes":
        raise InputError(f"the compositional split exists for shape scenes only: {then}")


def tiny_config() -> CaptionConfig:
    """Seconds on a CPU: a one-layer Transformer decoder over a small grid encoder, 32 scenes, one epoch."""
    return CaptionConfig(decoder="transformer", n_train=32, n_val=8, epochs=1, batch_size=16, eval_n=0,
                         model=dict(d_model=16, channels=[8, 8, 16], n_heads=2, n_layers=1))


def page_config(decoder: str, dataset: str, split: str = "iid", *, n_train: int = 2000,
                epochs: int = 4) -> CaptionConfig:
    """The captioning page's run (its Train panel and Retrain): five minutes at most, scored on 200 scenes."""
    return CaptionConfig(decoder=decoder, dataset=dataset, split=split, n_train=n_train, n_val=200, epochs=epochs,
                         time_budget_s=300, eval_n=200)


def default_name(decoder: str, dataset: str, split: str = "iid") -> str:
    return f"caption-{decoder}-{dataset}" + ("-comp" if split == "compositional" else "")


def build(cfg: CaptionConfig) -> Captioner:
    """An untrained captioner."""
    cfg.check()
    return Captioner(cfg.model_config())


def caption_loss(model: Captioner, batch, alpha_c: float = ALPHA_C) -> torch.Tensor:
    """Cross-entropy on the next word, plus for the LSTM the doubly stochastic attention penalty

    alpha_c * mean_i (1 - sum_t alpha_ti)^2 over the real (non-pad) steps: it pushes the decoder to
    spread its attention over the image across the caption instead of staring at one cell.
    Show, Attend and Tell used alpha_c = 1 with 196 cells and long captions. Here a caption has at most
    11 steps (10 words and <eos>) for N = 64 cells, so sum_t alpha_ti cannot reach 1 everywhere and the
    penalty is smallest when every step attends uniformly: at alpha_c = 1 it outweighed the cross-entropy
    late in training and left the shape LSTM's attention diffuse (68% localisation). Hence a small
    default weight; the shipped shape LSTM uses 0.
    """
    images, tin, tout = batch
    logits, att = model(images, tin)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tout.reshape(-1), ignore_index=PAD)
    if model.config.decoder == "lstm" and alpha_c:
        mask = (tout != PAD).float()[:, :, None]          # (B, T, 1)
        coverage = (att[:, :, 0, 0, :] * mask).sum(1)     # (B, N)
        loss = loss + alpha_c * ((1.0 - coverage) ** 2).mean()
    return loss


def train(cfg: CaptionConfig, *, on_progress=None, stop=None, device=None) -> tuple[Captioner, dict]:
    """Train on fresh training scenes, then score cfg.eval_n held-out ones; returns (model in eval mode, card)."""
    from seqcore.device import device_name, pick_device

    cfg.check()
    torch.manual_seed(cfg.seed)
    device = device or pick_device()
    model = build(cfg)
    train_data = CaptionData(make_scenes(cfg.dataset, cfg.n_train, cfg.seed, "train", cfg.split))
    # Validation scenes come from the training distribution (a different seed), never the test stream.
    val_data = CaptionData(make_scenes(cfg.dataset, cfg.n_val, cfg.seed + 10_000, "train", cfg.split))
    tcfg = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr, seed=cfg.seed,
                       time_budget_s=cfg.time_budget_s, patience=cfg.patience)
    result = fit(model, functools.partial(caption_loss, alpha_c=cfg.alpha_c), train_data, val_data, tcfg,
                 on_progress=on_progress, stop=stop, device=device)
    model.cpu().eval()
    metrics = {}
    if result.steps and cfg.eval_n:  # random weights (stopped before the first step) are not worth scoring
        metrics = evaluate(model, cfg.dataset, limit=cfg.eval_n, split=cfg.split, examples=0)
        if cfg.split == "compositional":  # the same model on in-distribution scenes, for contrast
            iid = evaluate(model, "shapes", limit=cfg.eval_n, baseline=False, examples=0)
            metrics["iid"] = {k: iid[k] for k in ("bleu4", "exact", "attention_localisation")}
    data = {"dataset": cfg.dataset, "split": cfg.split, "n_train": cfg.n_train, "n_val": cfg.n_val, "seed": cfg.seed,
            "source": SOURCES[cfg.dataset]}
    if metrics:
        data["held_out"] = f"{metrics['n']} fresh scenes from the test stream (seed {TEST_SEED})"
    card = make_card(TASK, f"cnn-{'lstm-attention' if cfg.decoder == 'lstm' else 'transformer'}",
                     model.config.to_dict(), data=data, metrics=metrics, train_seconds=round(result.seconds, 1),
                     device=device_name(device), hyperparameters={**tcfg.to_dict(), "alpha_c": cfg.alpha_c},
                     training=result.to_dict(), vocab=list(VOCAB))
    return model, card


def save(model: Captioner, card: dict, name: str | None = None, out: str | Path | None = None) -> Path:
    """NAME.safetensors (fp16) + NAME.json under `out` (default: the user checkpoint dir)."""
    folder = Path(out) if out else user_dir()
    return save_checkpoint(model, card, folder / (name or card["name"]), half=True)


def _rebuild(card: dict) -> Captioner:
    return Captioner(CaptionerConfig.from_dict(card["config"]))


def load(name_or_info: str | CheckpointInfo | None = None) -> tuple[Captioner, dict]:
    """A captioner from a checkpoint name, a registry entry, or None (the best held-out BLEU-4) -> (model, card)."""
    info = as_info(best_name() if name_or_info is None else name_or_info, TASK)
    if info.task != TASK:
        raise CheckpointError(f"{info.name} is a {info.task!r} model, not a captioner")
    model, _, card = restore(info, _rebuild)
    return model, card


def best_name() -> str:
    """The captioner whose model card has the highest held-out BLEU-4."""
    return best_checkpoint(TASK, "bleu4").name


def evaluate(model: Captioner, dataset: str = "shapes", *, limit: int | None = None, seed: int = TEST_SEED,
             beam: int = 1, split: str = "iid", baseline: bool = True, baseline_n: int = 2000,
             examples: int = 5) -> dict:
    """Scores on `limit` (default EVAL_N) fresh held-out scenes of the test stream; compositional: each scene
    holds a colour-shape pair kept out of training. examples: how many (reference, caption) pairs to include."""
    n = EVAL_N if limit is None else int(limit)
    if not 1 <= n <= 20_000:
        raise InputError("the number of held-out scenes must be between 1 and 20,000")
    _check_split(dataset, split, "score a shapes model, or on in-distribution scenes")
    items = make_scenes(dataset, n, seed, "test", split)
    start = time.perf_counter()
    caps = caption_images(model, np.stack([s.image for s in items]), beam=beam)
    seconds = time.perf_counter() - start
    hyps, refs = [c.text for c in caps], [s.caption for s in items]
    out = {"bleu4": round(bleu4(hyps, refs), 2), "exact": round(_exact(hyps, refs), 4)}
    out.update({k: round(v, 4) if isinstance(v, float) else v for k, v in localisation(model, items).items()})
    out.update({"n": n, "dataset": dataset, "split": split, "seed": seed, "beam": beam,
                "captions_per_second": round(n / max(seconds, 1e-9), 1)})
    if baseline:
        nn_caps = nearest_neighbour_captions(dataset, items, n_train=baseline_n, split=split)
        out["baseline_nn_bleu4"] = round(bleu4(nn_caps, refs), 2)
        out["baseline_nn_exact"] = round(_exact(nn_caps, refs), 4)
    if examples:
        out["examples"] = [{"reference": r, "caption": h} for h, r in list(zip(hyps, refs, strict=True))[:examples]]
    return out


def _exact(hyps: list[str], refs: list[str]) -> float:
    return float(np.mean([h == r for h, r in zip(hyps, refs, strict=True)]))


def attention_probe(info: CheckpointInfo, text: str | None = None):
    """A Transformer decoder's probe: context = the encoder grid of a held-out scene, tokens = caption.

    text: a caption to read (words from the vocabulary); None reads the model's own greedy caption.
    """
    from seqcore.tasks.probe import AttentionProbe

    model, card = shared_load(load, info)  # loaded once per file version: a new text costs no reload
    if model.config.decoder != "transformer":
        raise CheckpointError(f"{info.name} has an LSTM decoder; the explorer opens Transformer decoders")
    dataset = card.get("data", {}).get("dataset", "shapes")
    scene = make_scene(dataset if dataset in DATASETS else "shapes", scenes.scene_rng(TEST_SEED, 0, "test"), "test")
    with torch.no_grad():  # not inference_mode: the explorer may run the model outside it
        context = model.encoder(image_tensor(scene.image))  # (1, N, d_model)
        if text and text.strip():
            words = text.lower().split()
            unknown = [w for w in words if w not in STOI or w in SPECIALS]
            if unknown:
                raise InputError(f"words {unknown} are not in the caption vocabulary: use {', '.join(VOCAB[4:])}")
        else:
            words = caption_images(model, scene.image)[0].words
    g = model.grid
    x = torch.tensor([[BOS, *encode(words)]])[:, : MAX_LEN - 1]  # (1, T)
    return AttentionProbe(
        model=model.decoder, x=x, tokens=["<bos>", *words][: x.shape[1]], context=context,
        context_tokens=[f"r{r}c{c}" for r in range(g) for c in range(g)],
        special=[True] + [False] * (x.shape[1] - 1),
        note=f"held-out {dataset} scene whose reference caption is: {scene.caption!r}; "
             f"grid cells r0c0 (top left) .. r{g - 1}c{g - 1}; query row t attends while writing word t+1",
    )
