"""A small CNN that turns an image into a grid of feature vectors, each tagged with its position.

Three strided conv-BN-ReLU stages take a 64x64 image to an 8x8 grid (one vector per 8x8 pixel
cell), one more 3x3 conv mixes neighbouring cells, a 1x1 conv maps channels to d_model, and a
learned embedding per cell adds where the cell is, so an attending decoder can say "left of" from
the features alone. Strided convolutions instead of pooling keep it cheap enough to train on one
CPU core in minutes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn


@dataclass
class EncoderConfig:
    image_size: int = 64
    channels: tuple[int, ...] = (16, 32, 64)  # one stage per entry, each halves the resolution
    d_model: int = 64

    @property
    def grid(self) -> int:
        return self.image_size // 2 ** len(self.channels)

    def to_dict(self) -> dict:
        return asdict(self)


class GridEncoder(nn.Module):
    """Input: images (B, 3, H, W) floats in [0, 1], H = W = image_size.
    Output: features (B, grid*grid, d_model), cells in row-major order (row 0 is the image's top).
    """

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.config = cfg
        layers, c_in = [], 3
        for c in cfg.channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        layers += [nn.Conv2d(c_in, c_in, 3, padding=1, bias=False), nn.BatchNorm2d(c_in), nn.ReLU()]
        self.body = nn.Sequential(*layers)
        self.proj = nn.Conv2d(c_in, cfg.d_model, 1)
        self.pos = nn.Parameter(torch.zeros(cfg.grid * cfg.grid, cfg.d_model))
        nn.init.normal_(self.pos, std=0.02)
        # Fixed per-channel normalisation: images arrive in [0, 1].
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        h = self.proj(self.body((images - self.mean) / 0.25))  # (B, d_model, g, g)
        return h.flatten(2).transpose(1, 2) + self.pos           # (B, g*g, d_model)
