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
_STEP_KERNELS = {"LSTM": torch.lstm_cell, "GRU": torch.gru_cell, "RNN_TANH": torch.rnn_tanh_cell,
                 "RNN_RELU": torch.rnn_relu_cell}


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


def run_rnn(rnn: nn.RNNBase, x: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
    """rnn(x, state) for a batch_first torch RNN/LSTM/GRU, with one time step on the CPU through the cell kernels.

    x (B, T, I) -> (y (B, T, H*D), state) exactly as rnn(x, state). Why: on the CPU torch sends every nn.LSTM call
    through oneDNN, which re-lays-out the weights on each call; for a single step that copy is the whole cost (a
    256-wide LSTM: ~0.3 ms per step, and ~0.9 ms in the app server, where each 1 MiB copy is a fresh mmap, against
    ~0.1 ms through torch.lstm_cell). Step-by-step decoding (the music LSTM, the translation LSTM's decoder) runs
    one step at a time; anything else (several steps, bidirectional, dropout while training, GPU) takes the
    fused kernel.
    """
    one_step = (x.shape[1] == 1 and x.device.type == "cpu" and not rnn.bidirectional and rnn.batch_first
                and not getattr(rnn, "proj_size", 0) and not (rnn.training and rnn.dropout))
    if not one_step:
        return rnn(x, state)
    kernel = _STEP_KERNELS[rnn.mode]
    lstm = rnn.mode == "LSTM"
    if state is None:
        zeros = x.new_zeros(rnn.num_layers, x.shape[0], rnn.hidden_size)
        state = (zeros, zeros) if lstm else zeros
    h, new_h, new_c = x[:, 0], [], []  # (B, I)
    for layer in range(rnn.num_layers):
        w = [getattr(rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh")]
        b = [getattr(rnn, f"{name}_l{layer}") for name in ("bias_ih", "bias_hh")] if rnn.bias else [None, None]
        if lstm:
            h, c = kernel(h, (state[0][layer], state[1][layer]), *w, *b)  # (B, H) each
            new_c.append(c)
        else:
            h = kernel(h, state[layer], *w, *b)  # (B, H)
        new_h.append(h)
    hs = torch.stack(new_h)  # (L, B, H)
    return h[:, None], ((hs, torch.stack(new_c)) if lstm else hs)


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
            out, state = run_rnn(self.rnn, h, state)  # (B, T, H*D)
        else:
            packed = pack_padded_sequence(h, lengths.cpu(), batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed, state)
            out, _ = pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])  # (B, T, H*D)
        if self.head is not None:
            out = self.head(out)
        return out, state
