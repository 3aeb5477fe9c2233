"""Sequence models shared by every task. Heads stay small and live beside the tasks."""

from seqcore.models.rnn import RNNConfig, SequenceRNN
from seqcore.models.transformer import KVCache, Transformer, TransformerConfig, TransformerOutput

__all__ = ["KVCache", "RNNConfig", "SequenceRNN", "Transformer", "TransformerConfig", "TransformerOutput"]
