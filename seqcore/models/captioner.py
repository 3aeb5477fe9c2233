"""Image captioners: a GridEncoder plus one of two decoders that attend over the feature grid.

"lstm": Show, Attend and Tell's decoder. At step t, soft additive attention over the N grid cells
    e_ti = w^T tanh(W_a a_i + W_h h_{t-1}),  alpha_t = softmax(e_t),  z_t = beta_t * sum_i alpha_ti a_i
(seqcore.models.attention.AdditiveAttention) with a gate beta_t = sigmoid(f_beta(h_{t-1})); an nn.LSTMCell
reads [embed(y_{t-1}), z_t] and the next word comes from [h_t, z_t]. The task adds the doubly stochastic
penalty on sum_t alpha_ti.
"transformer": seqcore's Transformer, causal self-attention over the words so far plus
    cross-attention to the grid (the grid carries its own position embedding).

Both decode through seqcore.generate with the seq2seq surface (seqcore.models.seq2seq):
    start(images)          -> state        (encodes the images once)
    step(state, tokens)    -> (log_probs (B, V), state)   tokens (B, 1); state["attention"] (B, L, H, N)
    reorder(state, index)  -> state        (beam search keeps rows `index`)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from seqcore.models.attention import AdditiveAttention
from seqcore.models.cnn import EncoderConfig, GridEncoder
from seqcore.models.transformer import Transformer, TransformerConfig

DECODERS = ("lstm", "transformer")


@dataclass
class CaptionerConfig:
    decoder: str = "lstm"       # lstm | transformer
    vocab_size: int = 32
    max_len: int = 16           # caption tokens including <bos>/<eos>
    d_model: int = 64           # grid feature size (and Transformer width)
    channels: list[int] = field(default_factory=lambda: [16, 32, 64])
    image_size: int = 64
    embed_dim: int = 32         # LSTM word embedding
    hidden_size: int = 128      # LSTM state
    att_dim: int = 64           # additive attention width
    n_heads: int = 4            # Transformer
    n_layers: int = 2
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> CaptionerConfig:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class AttentionLSTMDecoder(nn.Module):
    """Show, Attend and Tell decoder over grid features (B, N, D); one LSTMCell step per word."""

    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        d, hdim = cfg.d_model, cfg.hidden_size
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        self.init_h, self.init_c = nn.Linear(d, hdim), nn.Linear(d, hdim)
        self.attend = AdditiveAttention(d, hdim, cfg.att_dim)
        self.gate = nn.Linear(hdim, d)
        self.cell = nn.LSTMCell(cfg.embed_dim + d, hdim)
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(hdim + d, cfg.vocab_size)

    def start(self, feats: torch.Tensor) -> dict:
        """feats (B, N, D) -> state: feats, their attention keys (B, N, A), (h, c) each (B, H) from the mean feature."""
        mean = feats.mean(1)
        return {"feats": feats, "keys": self.attend.project(feats),
                "hc": (torch.tanh(self.init_h(mean)), torch.tanh(self.init_c(mean)))}

    def step(self, state: dict, token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """token (B,) -> logits (B, V), alpha (B, N), the next state."""
        feats, (h, c) = state["feats"], state["hc"]
        alpha = self.attend(state["keys"], h)
        z = torch.sigmoid(self.gate(h)) * (alpha[:, :, None] * feats).sum(1)  # (B, D)
        h, c = self.cell(torch.cat([self.embed(token), z], -1), (h, c))
        return self.out(self.drop(torch.cat([h, z], -1))), alpha, {**state, "hc": (h, c)}

    def forward(self, feats: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """feats (B, N, D), tokens (B, T) -> logits (B, T, V), alphas (B, T, N)."""
        state = self.start(feats)
        logits, alphas = [], []
        for t in range(tokens.shape[1]):
            out, alpha, state = self.step(state, tokens[:, t])
            logits.append(out)
            alphas.append(alpha)
        return torch.stack(logits, 1), torch.stack(alphas, 1)


class Captioner(nn.Module):
    """images (B, 3, S, S) in [0, 1] + tokens (B, T) -> logits (B, T, V) and attention.

    attention: (B, T, L, H, N) over the N grid cells, per layer L and head H (L = H = 1 for the
    LSTM); filled for the LSTM always (its loss needs it), for the Transformer when return_attention.
    """

    def __init__(self, cfg: CaptionerConfig):
        super().__init__()
        if cfg.decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {DECODERS}, got {cfg.decoder!r}")
        self.config = cfg
        self.encoder = GridEncoder(EncoderConfig(cfg.image_size, tuple(cfg.channels), cfg.d_model))
        if cfg.decoder == "lstm":
            self.decoder = AttentionLSTMDecoder(cfg)
        else:
            self.decoder = Transformer(TransformerConfig(
                d_model=cfg.d_model, n_heads=cfg.n_heads, n_layers=cfg.n_layers, d_ff=2 * cfg.d_model,
                dropout=cfg.dropout, causal=True, cross_attention=True, positions="learned",
                max_len=cfg.max_len, vocab_size=cfg.vocab_size, out_size=cfg.vocab_size))

    @property
    def grid(self) -> int:
        return self.encoder.config.grid

    def forward(self, images: torch.Tensor, tokens: torch.Tensor, *, return_attention: bool = False):
        feats = self.encoder(images)  # (B, N, D)
        if self.config.decoder == "lstm":
            logits, alphas = self.decoder(feats, tokens)
            return logits, alphas[:, :, None, None, :]
        out = self.decoder(tokens, feats, return_attention=return_attention)
        att = torch.stack(out.cross_attentions, 1).permute(0, 3, 1, 2, 4) if return_attention else None  # (B,T,L,H,N)
        return out.y, att

    # ---- step-by-step decoding (seqcore.generate)
    def start(self, images: torch.Tensor) -> dict:
        """images (B, 3, S, S) -> state: the grid features (B, N, D) and the decoder's carried state.

        The LSTM carries (h, c) and the grid's attention keys; the Transformer a KV cache, so a step projects
        only the new token (the grid's cross-attention keys and values are computed on the first step).
        """
        feats = self.encoder(images)
        if self.config.decoder == "lstm":
            return self.decoder.start(feats)
        return {"feats": feats, "cache": self.decoder.new_cache()}

    def step(self, state: dict, tokens: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """tokens (B, 1) -> (log-probabilities (B, V), state); state["attention"] (B, L, H, N) is this step's."""
        if self.config.decoder == "lstm":
            logits, alpha, state = self.decoder.step(state, tokens[:, 0])
            att = alpha[:, None, None, :]
        else:
            out = self.decoder(tokens, state["feats"], cache=state["cache"], return_attention=True)
            logits = out.y[:, -1]
            att = torch.stack([a[:, :, -1] for a in out.cross_attentions], 1)  # (B, L, H, N)
        return F.log_softmax(logits.float(), -1), {**state, "attention": att}

    def reorder(self, state: dict, index: torch.Tensor) -> dict:
        """Keep batch rows `index` (with repeats) of every tensor the state carries."""
        out = {k: state[k][index] for k in ("feats", "keys", "attention") if k in state}
        if "hc" in state:
            out["hc"] = (state["hc"][0][index], state["hc"][1][index])
        if "cache" in state:
            out["cache"] = state["cache"].select(index)
        return out
