"""Images from outside the scene generators: upload checks and conversion, and the attention overlays.

An upload is anything a person drops on the page or passes to `seqcore caption`: it is checked (size, pixel
count, readable by Pillow) before any decoding work, converted to the scenes' 64x64 RGB, and every change is
said. The overlays shade an image by an (8, 8) attention map, for the page's per-word pictures.
"""

from __future__ import annotations

import io

import numpy as np

from seqcore.data import scenes
from seqcore.errors import InputError

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
    except Image.DecompressionBombError:  # PIL refuses to open over 2x its own limit, before the check above
        raise InputError(f"{name} declares more than {2 * Image.MAX_IMAGE_PIXELS // 1_000_000} megapixels (a "
                         f"decompression bomb, or a huge image): upload an image under {MAX_PIXELS // 1_000_000} "
                         "megapixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
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
