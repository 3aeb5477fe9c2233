"""Direct multi-horizon quantile forecaster: an LSTM or a Transformer encoder over the lookback window.

The encoder reads L scaled returns and its last hidden state goes through one linear head to
H x 3 numbers: the 10%, 50% and 90% quantiles of the scaled cumulative return 1..H steps ahead.
The outer quantiles are the median minus / plus a softplus, so they can never cross.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from seqcore.models.rnn import RNNConfig, SequenceRNN
from seqcore.models.transformer import Transformer, TransformerConfig

QUANTILES = (0.1, 0.5, 0.9)


@dataclass
class QuantileForecasterConfig:
    """The network's shape only (seqcore.tasks.forecasting.ForecastTaskConfig holds the data and the training run)."""

    arch: str = "lstm"      # lstm | transformer
    lookback: int = 60
    horizon: int = 20
    hidden: int = 32
    layers: int = 1
    heads: int = 4
    dropout: float = 0.0
    input_size: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


class QuantileForecaster(nn.Module):
    """Input x (B, L, input_size) scaled returns; output (B, H, 3) scaled cumulative-return quantiles."""

    def __init__(self, cfg: QuantileForecasterConfig):
        super().__init__()
        self.config = cfg
        if cfg.arch == "lstm":
            self.encoder = SequenceRNN(RNNConfig(cell="lstm", input_size=cfg.input_size, hidden_size=cfg.hidden,
                                                 num_layers=cfg.layers, dropout=cfg.dropout))
        elif cfg.arch == "transformer":
            self.encoder = Transformer(TransformerConfig(
                d_model=cfg.hidden, n_heads=cfg.heads, n_layers=cfg.layers, d_ff=2 * cfg.hidden,
                dropout=cfg.dropout, input_size=cfg.input_size, positions="learned", max_len=cfg.lookback))
        else:
            raise ValueError(f"arch must be lstm or transformer, got {cfg.arch!r}")
        self.head = nn.Linear(cfg.hidden, cfg.horizon * 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.encoder(x)[0]                   # (B, L, hidden) from either encoder
        raw = self.head(h[:, -1]).view(x.shape[0], self.config.horizon, 3)
        mid = raw[..., 1]
        return torch.stack([mid - F.softplus(raw[..., 0]), mid, mid + F.softplus(raw[..., 2])], dim=-1)


def pinball_loss(pred: torch.Tensor, target: torch.Tensor, quantiles=QUANTILES) -> torch.Tensor:
    """Mean quantile (pinball) loss. pred (B, H, Q), target (B, H)."""
    q = torch.tensor(quantiles, dtype=pred.dtype, device=pred.device)
    err = target.unsqueeze(-1) - pred  # (B, H, Q)
    return torch.maximum(q * err, (q - 1) * err).mean()
