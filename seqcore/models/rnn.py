"""One recurrent sequence model over torch's fused kernels (cuDNN on GPU).

cell = "rnn" is the lecture's vanilla update h_t = tanh(W_hh h_{t-1} + W_xh x_t + b);
"lstm" adds the forget / input / output gates and a cell state; "gru" is the gated middle ground.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

_CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


@dataclass
class RNNConfig:
    cell: str = "lstm"            # rnn | lstm | gru
    vocab_size: int | None = None  # token ids in; None means float features in
    input_size: int = 1           # feature size when vocab_size is None
    embed_dim: int = 64           # embedding size when vocab_size is set
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.0
    bidirectional: bool = False
    out_size: int | None = None   # linear head on every step; None returns hidden states

    def to_dict(self) -> dict:
        return asdict(self)


State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class SequenceRNN(nn.Module):
    """Embedding (or features) -> stacked RNN/LSTM/GRU -> optional linear head.

    Input:  x (B, T) int64 token ids, or (B, T, input_size) floats; or embeddings (B, T, embed_dim) in place
            of embed(x) (x None), e.g. to differentiate a classifier's logit with respect to them.
            lengths (B,) int64 for right-padded batches: the sequences are packed, so padding never enters
            the state (the backward direction starts at each sequence's own last token).
    Output: (y, state) with y (B, T, out_size) or (B, T, hidden * directions) (zeros at padding when lengths
            is given), and the final state ((L*D, B, H) for rnn/gru; a (h, c) pair for lstm) to carry into
            the next call (each sequence's state after its own last token when lengths is given).
    """

    def __init__(self, config: RNNConfig):
        super().__init__()
        if config.cell not in _CELLS:
            raise ValueError(f"cell must be one of {sorted(_CELLS)}, got {config.cell!r}")
        self.config = config
        if config.vocab_size is not None:
            self.embed = nn.Embedding(config.vocab_size, config.embed_dim)
            in_size = config.embed_dim
        else:
            self.embed = None
            in_size = config.input_size
        kwargs = {"nonlinearity": "tanh"} if config.cell == "rnn" else {}
        self.rnn = _CELLS[config.cell](
            in_size,
            config.hidden_size,
            num_layers=config.num_layers,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
            bidirectional=config.bidirectional,
            batch_first=True,
            **kwargs,
        )
        self.out_features = config.hidden_size * (2 if config.bidirectional else 1)
        self.head = nn.Linear(self.out_features, config.out_size) if config.out_size else None

    def forward(self, x: torch.Tensor | None, state: State | None = None, *, lengths: torch.Tensor | None = None,
                embeddings: torch.Tensor | None = None) -> tuple[torch.Tensor, State]:
        h = embeddings
        if h is None:
            h = self.embed(x) if self.embed is not None else x  # (B, T, E)
        if lengths is None:
            out, state = self.rnn(h, state)  # (B, T, H*D)
        else:
            packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])  # (B, T, H*D)
        if self.head is not None:
            out = self.head(out)
        return out, state
