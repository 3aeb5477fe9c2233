"""Sequence Studio's model package: models, data, training, checkpoints and the `seqcore` CLI.

Never imports streamlit: the pages call into this package, not the other way round.
"""

from seqcore.errors import CheckpointError, InputError, SeqcoreError

__version__ = "0.1.0"
__all__ = ["CheckpointError", "InputError", "SeqcoreError", "__version__"]
