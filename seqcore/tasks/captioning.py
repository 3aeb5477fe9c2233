"""Image captioning: train, caption (greedy or beam search), evaluate, and read the attention.

Problem shape: one-to-many. An image becomes a grid of N = 8x8 feature vectors; a decoder writes
the caption one word at a time, attending over the grid at each word. Scores on freshly generated
held-out scenes: BLEU-4 (sacrebleu, pre-tokenised), exact match, and attention localisation: the
share of object words (size, colour, shape, digit) whose attention peak cell overlaps that object's
box, read with teacher forcing on the reference caption so every object word is scored. Baselines:
the caption of the nearest training image in pixel space, and the share of cells a uniformly random
peak would hit.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from seqcore.checkpoints import (
    CheckpointInfo,
    find_checkpoint,
    load_checkpoint,
    load_weights,
    make_card,
    save_checkpoint,
    shared_load,
    user_dir,
)
from seqcore.data import digits, scenes
from seqcore.data.scenes import Scene
from seqcore.errors import CheckpointError, InputError
from seqcore.models.captioner import DECODERS, Captioner, CaptionerConfig
from seqcore.train import TrainConfig, fit

TASK = "caption"
DATASETS = ("shapes", "digits")
SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
VOCAB = (*SPECIALS, *scenes.WORDS, *digits.WORDS)
STOI = {w: i for i, w in enumerate(VOCAB)}
PAD, BOS, EOS, UNK = range(4)
MAX_LEN = 16
TEST_SEED = 1234  # default seed of the held-out stream for `evaluate`


# ---------------------------------------------------------------- data


def make_scene(dataset: str, rng: np.random.Generator, part: str = "train", split: str = "iid") -> Scene:
    """One random scene of `dataset`; part train | test picks the random pool / held-out pairs."""
    if dataset == "shapes":
        return scenes.random_scene(rng, split, part)
    if dataset == "digits":
        return digits.random_digits(rng, part)
    raise InputError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def make_scenes(dataset: str, n: int, seed: int, part: str, split: str = "iid") -> list[Scene]:
    """n scenes, each from its own (seed, index, part) stream: reproducible and disjoint across parts."""
    return [make_scene(dataset, scenes.scene_rng(seed, i, part), part, split) for i in range(n)]


def encode(words: list[str]) -> list[int]:
    return [STOI.get(w, UNK) for w in words]


def decode(ids: list[int]) -> list[str]:
    """Token ids -> words, stopping at <eos> and dropping specials."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i >= len(SPECIALS):
            out.append(VOCAB[i])
    return out


def image_tensor(images: np.ndarray) -> torch.Tensor:
    """(H, W, 3) or (B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    x = torch.as_tensor(np.asarray(images))
    if x.dim() == 3:
        x = x[None]
    return x.permute(0, 3, 1, 2).float() / 255.0


class CaptionData(Dataset):
    """Pre-rendered scenes: items (image (3, 64, 64) float, tokens_in (T,), tokens_out (T,)), T = MAX_LEN - 1.

    tokens_in = <bos> w1 .. wn <pad>..., tokens_out = w1 .. wn <eos> <pad>...
    """

    def __init__(self, items: list[Scene]):
        self.scenes = items
        self.images = np.stack([s.image for s in items])  # (n, 64, 64, 3) uint8: 12 KB a scene
        t = MAX_LEN - 1
        self.tin = torch.full((len(items), t), PAD, dtype=torch.long)
        self.tout = torch.full((len(items), t), PAD, dtype=torch.long)
        for i, s in enumerate(items):
            ids = encode(s.words)
            self.tin[i, : len(ids) + 1] = torch.tensor([BOS, *ids])
            self.tout[i, : len(ids) + 1] = torch.tensor([*ids, EOS])

    def __len__(self) -> int:
        return len(self.scenes)

    def __getitem__(self, i: int):
        return image_tensor(self.images[i])[0], self.tin[i], self.tout[i]


# ---------------------------------------------------------------- model, loss, training


def build_model(decoder: str = "lstm", **overrides) -> Captioner:
    if decoder not in DECODERS:
        raise InputError(f"model must be one of {DECODERS}, got {decoder!r}")
    return Captioner(CaptionerConfig(decoder=decoder, vocab_size=len(VOCAB), max_len=MAX_LEN, **overrides))


ALPHA_C = 0.1  # default weight of the doubly stochastic penalty (see caption_loss)


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


@dataclass
class TrainSpec:
    decoder: str = "lstm"
    dataset: str = "shapes"
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
    model: dict = field(default_factory=dict)  # CaptionerConfig overrides

    def check(self) -> None:
        if self.decoder not in DECODERS:
            raise InputError(f"model must be one of {DECODERS}, got {self.decoder!r}")
        if self.dataset not in DATASETS:
            raise InputError(f"dataset must be one of {DATASETS}, got {self.dataset!r}")
        if self.split not in scenes.SPLITS:
            raise InputError(f"split must be one of {scenes.SPLITS}, got {self.split!r}")
        if self.split == "compositional" and self.dataset != "shapes":
            raise InputError("the compositional split exists for the shapes dataset only")
        if not 10 <= self.n_train <= 50_000:
            raise InputError("n_train must be between 10 and 50,000 scenes")
        if not 1 <= self.epochs <= 200:
            raise InputError("epochs must be between 1 and 200")


def train(spec: TrainSpec, *, on_progress=None, stop=None, device=None) -> tuple[Captioner, dict]:
    """Train a captioner on fresh training scenes; returns (model in eval mode, summary dict)."""
    spec.check()
    torch.manual_seed(spec.seed)
    model = build_model(spec.decoder, **spec.model)
    train_data = CaptionData(make_scenes(spec.dataset, spec.n_train, spec.seed, "train", spec.split))
    # Validation scenes come from the training distribution (a different seed), never the test stream.
    val_data = CaptionData(make_scenes(spec.dataset, spec.n_val, spec.seed + 10_000, "train", spec.split))
    cfg = TrainConfig(epochs=spec.epochs, batch_size=spec.batch_size, lr=spec.lr, seed=spec.seed,
                      time_budget_s=spec.time_budget_s, patience=spec.patience)
    result = fit(model, lambda m, b: caption_loss(m, b, spec.alpha_c), train_data, val_data, cfg,
                 on_progress=on_progress, stop=stop, device=device)
    model.cpu().eval()
    return model, {"train": result.to_dict(), "train_config": cfg.to_dict()}


def default_name(decoder: str, dataset: str, split: str = "iid") -> str:
    return f"caption-{decoder}-{dataset}" + ("-comp" if split == "compositional" else "")


def card_for(model: Captioner, spec: TrainSpec, summary: dict, metrics: dict, device: str, **fields) -> dict:
    return make_card(
        TASK, f"cnn-{'lstm-attention' if spec.decoder == 'lstm' else 'transformer'}", model.config.to_dict(),
        data={"dataset": spec.dataset, "split": spec.split, "n_train": spec.n_train, "n_val": spec.n_val,
              "seed": spec.seed, "source": _SOURCES[spec.dataset],
              "held_out": f"{metrics.get('n', 0)} fresh scenes from the test stream (seed {TEST_SEED})"},
        metrics=metrics, train_seconds=round(summary["train"]["seconds"], 1), device=device,
        hyperparameters={**summary["train_config"], "alpha_c": spec.alpha_c},
        training=summary["train"], vocab=list(VOCAB), **fields)


_SOURCES = {
    "shapes": "synthetic Pillow scenes (seqcore.data.scenes): 1-2 shapes, grey noisy background, jitter",
    "digits": "scikit-learn's bundled 8x8 handwritten digits, 2-5 per image, disjoint train/test scans",
}


def save(model: Captioner, card: dict, name: str | None = None, out: str | Path | None = None) -> Path:
    """fp16 safetensors + card under `out` (default: the user checkpoint dir)."""
    folder = Path(out) if out else user_dir()
    return save_checkpoint(model, card, folder / (name or card["name"]), half=True)


def load(name_or_info: str | CheckpointInfo) -> tuple[Captioner, dict]:
    """A registry checkpoint by name (or CheckpointInfo) -> (model in eval mode, card)."""
    info = name_or_info if isinstance(name_or_info, CheckpointInfo) else find_checkpoint(name_or_info, TASK)
    state, card = load_checkpoint(info.stem)
    if card.get("task") != TASK:
        raise CheckpointError(f"{info.name} is a {card.get('task')!r} model, not a captioner")
    try:
        model = Captioner(CaptionerConfig.from_dict(card["config"]))
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{info.name} has a model card this version cannot build ({e})") from None
    load_weights(model, {k: v.float() if v.is_floating_point() else v for k, v in state.items()}, info.name)
    return model.eval(), card


# ---------------------------------------------------------------- decoding


@dataclass
class Caption:
    words: list[str]
    attention: np.ndarray        # (n_words + 1, L, H, N): the steps that emitted each word and <eos>
    score: float                 # sum of log-probabilities

    @property
    def text(self) -> str:
        return " ".join(self.words)

    def word_maps(self, grid: int) -> np.ndarray:
        """(n_words, grid, grid): attention per word, averaged over layers and heads; each sums to 1."""
        a = self.attention[: len(self.words)].mean(axis=(1, 2))
        return a.reshape(len(self.words), grid, grid)


class _Stepper:
    """Feeds one token per hypothesis and returns (log-probs (K, V), attention (K, L, H, N)).

    The LSTM carries (h, c); the Transformer keeps a KVCache, so each step projects only the new
    token (the grid's cross-attention keys and values are computed once, on the first step) instead
    of rerunning the whole prefix. Beam search reorders the cache rows with the hypotheses.
    """

    def __init__(self, model: Captioner, feats: torch.Tensor):
        self.model, self.feats = model, feats  # feats (K, N, D)
        if model.config.decoder == "lstm":
            self.proj = model.decoder.attend.feat(feats)
            self.state = model.decoder.start(feats)
        else:
            self.cache = model.decoder.new_cache()

    def step(self, token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.model.config.decoder == "lstm":
            logits, alpha, self.state = self.model.decoder.step(self.feats, self.proj, token, self.state)
            return F.log_softmax(logits, -1), alpha[:, None, None, :]
        out = self.model.decoder(token[:, None], self.feats, cache=self.cache, return_attention=True)
        att = torch.stack([a[:, :, -1, :] for a in out.cross_attentions], 1)  # (K, L, H, N)
        return F.log_softmax(out.y[:, -1], -1), att

    def reorder(self, idx: torch.Tensor) -> None:
        self.feats = self.feats[idx]
        if self.model.config.decoder == "lstm":
            self.proj = self.proj[idx]
            self.state = (self.state[0][idx], self.state[1][idx])
        else:
            for kvs in (self.cache.self_kv, self.cache.cross_kv):
                for i, kv in enumerate(kvs):
                    if kv is not None:
                        kvs[i] = (kv[0][idx], kv[1][idx])


def _greedy(model: Captioner, feats: torch.Tensor) -> list[Caption]:
    b = feats.shape[0]
    stepper = _Stepper(model, feats)
    token = torch.full((b,), BOS, dtype=torch.long)
    ids, atts, scores = [], [], torch.zeros(b)
    done = torch.zeros(b, dtype=torch.bool)
    for _ in range(MAX_LEN - 1):
        logp, att = stepper.step(token)
        token = logp.argmax(-1)
        scores += torch.where(done, 0.0, logp.gather(1, token[:, None])[:, 0])
        ids.append(token)
        atts.append(att)
        done |= token == EOS
        if done.all():
            break
    ids_t, att_t = torch.stack(ids, 1).tolist(), torch.stack(atts, 1).numpy()  # (B, T, L, H, N)
    out = []
    for i in range(b):
        words = decode(ids_t[i])
        out.append(Caption(words, att_t[i, : len(words) + 1], float(scores[i])))
    return out


def _beam(model: Captioner, feats: torch.Tensor, k: int) -> Caption:
    """Beam search for one image (feats (1, N, D)); finished hypotheses ranked by mean log-prob."""
    stepper = _Stepper(model, feats)
    token = torch.tensor([BOS])
    beams = [([], [], 0.0)]  # (ids, attentions, log-prob)
    finished = []
    for _ in range(MAX_LEN - 1):
        logp, att = stepper.step(token)
        cand = []
        for bi, (_, _, score) in enumerate(beams):
            top = torch.topk(logp[bi], k)
            for lp, w in zip(top.values.tolist(), top.indices.tolist(), strict=False):
                cand.append((score + lp, bi, w))
        cand.sort(key=lambda c: -c[0])
        keep, new_beams = [], []
        for score, bi, w in cand:
            ids, atts, _ = beams[bi]
            hyp = (ids + [w], atts + [att[bi].numpy()], score)
            if w == EOS:
                finished.append(hyp)
            else:
                keep.append(bi)
                new_beams.append(hyp)
            if len(new_beams) == k:
                break
        if len(finished) >= k or not new_beams:
            break
        beams = new_beams
        stepper.reorder(torch.tensor(keep))
        token = torch.tensor([h[0][-1] for h in beams])
    pool = finished or beams
    ids, atts, score = max(pool, key=lambda h: h[2] / len(h[0]))
    words = decode(ids)
    return Caption(words, np.stack(atts)[: len(words) + 1], score)


@torch.inference_mode()
def caption_images(model: Captioner, images: np.ndarray, beam: int = 1, batch_size: int = 128) -> list[Caption]:
    """Captions for (B, 64, 64, 3) uint8 images: greedy when beam == 1, else beam search of that width."""
    if not 1 <= beam <= 10:
        raise InputError("beam width must be between 1 and 10")
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    out: list[Caption] = []
    for start in range(0, len(images), batch_size):
        feats = model.encoder(image_tensor(images[start: start + batch_size]))
        if beam == 1:
            out += _greedy(model, feats)
        else:
            out += [_beam(model, feats[i: i + 1], beam) for i in range(feats.shape[0])]
    return out


# ---------------------------------------------------------------- scores


def bleu4(hyps: list[str], refs: list[str]) -> float:
    """Corpus BLEU-4 (0-100) with sacrebleu on already tokenised, space-joined captions."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hyps, [refs], tokenize="none").score)


def _cell_hits_box(cell: int, grid: int, box: tuple[int, int, int, int], size: int = scenes.SIZE) -> bool:
    r, c = divmod(cell, grid)
    step = size / grid
    x0, y0, x1, y1 = box
    return c * step < x1 and (c + 1) * step > x0 and r * step < y1 and (r + 1) * step > y0


@torch.inference_mode()
def teacher_forced_attention(model: Captioner, items: list[Scene]) -> np.ndarray:
    """(B, T, N) attention, averaged over layers and heads, while reading each reference caption."""
    data = CaptionData(items)
    images = image_tensor(data.images)
    _, att = model(images, data.tin, return_attention=True)
    return att.mean(dim=(2, 3)).numpy()


def localisation(model: Captioner, items: list[Scene]) -> dict:
    """Share of object words whose attention peak cell overlaps the object's box, and the chance rate."""
    att = teacher_forced_attention(model, items)
    g = model.grid
    hits = total = 0
    chance = []
    for s, a in zip(items, att, strict=False):
        for t, obj in enumerate(s.word_object):
            if obj is None:
                continue
            total += 1
            hits += _cell_hits_box(int(a[t].argmax()), g, s.boxes[obj])
            chance.append(np.mean([_cell_hits_box(c, g, s.boxes[obj]) for c in range(g * g)]))
    return {"attention_localisation": hits / max(1, total), "chance_localisation": float(np.mean(chance or [0.0])),
            "object_words": total}


def nearest_neighbour_captions(dataset: str, items: list[Scene], n_train: int = 2000, seed: int = 0,
                               split: str = "iid") -> list[str]:
    """Baseline: the caption of the closest training image (squared distance of 16x16 thumbnails)."""
    train_items = make_scenes(dataset, n_train, seed, "train", split)

    def thumbs(xs):
        t = image_tensor(np.stack([s.image for s in xs]))
        return F.adaptive_avg_pool2d(t, 16).flatten(1)

    dist = torch.cdist(thumbs(items), thumbs(train_items))
    return [train_items[j].caption for j in dist.argmin(1).tolist()]


def evaluate(model: Captioner, dataset: str, n: int = 500, seed: int = TEST_SEED, beam: int = 1,
             split: str = "iid", baseline: bool = True, baseline_n: int = 2000) -> dict:
    """Scores on n fresh held-out scenes (the test stream; compositional: a held-out pair in each)."""
    if not 1 <= n <= 20_000:
        raise InputError("n must be between 1 and 20,000 scenes")
    items = make_scenes(dataset, n, seed, "test", split)
    start = time.perf_counter()
    caps = caption_images(model, np.stack([s.image for s in items]), beam=beam)
    seconds = time.perf_counter() - start
    hyps, refs = [c.text for c in caps], [s.caption for s in items]
    exact = float(np.mean([h == r for h, r in zip(hyps, refs, strict=True)]))
    out = {"bleu4": round(bleu4(hyps, refs), 2), "exact": round(exact, 4)}
    out.update({k: round(v, 4) if isinstance(v, float) else v for k, v in localisation(model, items).items()})
    out.update({"n": n, "dataset": dataset, "split": split, "seed": seed, "beam": beam,
                "captions_per_second": round(n / max(seconds, 1e-9), 1)})
    if baseline:
        nn_caps = nearest_neighbour_captions(dataset, items, n_train=baseline_n, split=split)
        out["baseline_nn_bleu4"] = round(bleu4(nn_caps, refs), 2)
        out["baseline_nn_exact"] = round(float(np.mean([h == r for h, r in zip(nn_caps, refs, strict=False)])), 4)
    out["examples"] = [{"reference": r, "caption": h} for h, r in list(zip(hyps, refs, strict=False))[:5]]
    return out


# ---------------------------------------------------------------- uploads and overlays

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MIN_SIDE = 16


def preprocess_upload(data: bytes, name: str = "upload") -> tuple[np.ndarray, list[str]]:
    """Image file bytes -> ((64, 64, 3) uint8, notes on what was changed). InputError when unusable.

    Grayscale is copied to three channels and transparency is flattened onto grey (both noted);
    non-square images are centre-cropped; everything is resized to the scenes' 64x64.
    """
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InputError(f"{name} is empty: upload a PNG or JPEG image")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InputError(f"{name} is {len(data) / 2**20:.1f} MB: upload an image under {MAX_UPLOAD_BYTES // 2**20} MB")
    try:
        img = Image.open(io.BytesIO(data))
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise InputError(f"{name} is {w}x{h} pixels: upload an image under {MAX_PIXELS // 1_000_000} megapixels")
        img.load()
    except InputError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as e:
        raise InputError(f"{name} is not an image this app can read ({type(e).__name__}): "
                         "upload a PNG, JPEG, GIF, BMP or WebP file") from None
    notes = []
    if min(w, h) < MIN_SIDE:
        raise InputError(f"{name} is only {w}x{h} pixels: upload an image at least {MIN_SIDE}x{MIN_SIDE}")
    if getattr(img, "n_frames", 1) > 1:
        notes.append("animated image: only the first frame is used")
    mode = img.mode
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA") or (mode == "RGBa"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (110, 110, 110, 255))
        img = Image.alpha_composite(background, rgba).convert("RGB")
        notes.append("transparent areas were filled with grey (the scenes have no alpha channel)")
    elif mode in ("L", "1", "I", "I;16", "F"):
        if mode in ("I", "I;16", "F"):
            arr = np.asarray(img, dtype=np.float64)
            span = max(arr.max() - arr.min(), 1e-9)
            img = Image.fromarray(((arr - arr.min()) / span * 255).astype(np.uint8))
        img = img.convert("RGB")
        notes.append("grayscale image: copied to red, green and blue, so no colour word can be right")
    elif mode != "RGB":
        img = img.convert("RGB")
        notes.append(f"{mode} image converted to RGB")
    if w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        img = img.crop((left, top, left + side, top + side))
        notes.append(f"centre-cropped from {w}x{h} to {side}x{side}")
    if img.size != (scenes.SIZE, scenes.SIZE):
        img = img.resize((scenes.SIZE, scenes.SIZE), Image.LANCZOS if img.size[0] > scenes.SIZE else Image.BICUBIC)
        notes.append(f"resized to {scenes.SIZE}x{scenes.SIZE}, the size the models were trained on")
    return np.asarray(img, dtype=np.uint8).copy(), notes


def upsample_map(att: np.ndarray, size: int = scenes.SIZE, blur: float = 3.0) -> np.ndarray:
    """(g, g) attention -> (size, size) map, bilinear upsampling then Gaussian smoothing, scaled to [0, 1]."""
    from PIL import Image, ImageFilter

    a = np.asarray(att, dtype=np.float32)
    a = (a / max(float(a.max()), 1e-12) * 255).astype(np.uint8)  # 8-bit: Pillow blurs only integer modes
    img = Image.fromarray(a).resize((size, size), Image.BILINEAR)
    img = img.filter(ImageFilter.GaussianBlur(blur)) if blur else img
    out = np.asarray(img, dtype=np.float32)
    return out / max(float(out.max()), 1e-12)


def overlay(image: np.ndarray, att: np.ndarray, strength: float = 0.75) -> np.ndarray:
    """(S, S, 3) uint8 image + (g, g) attention -> (S, S, 3) uint8: darkened where attention is low."""
    m = upsample_map(att, image.shape[0])[:, :, None]
    shade = image.astype(np.float32) * (1 - strength + strength * m)
    return np.clip(shade, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- attention explorer contract


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
