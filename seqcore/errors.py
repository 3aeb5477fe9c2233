"""The project's own error types: pages show them with st.error, the CLI exits 2 on them."""


class SeqcoreError(Exception):
    """Base class: a message meant for a person, saying what to change."""


class InputError(SeqcoreError, ValueError):
    """The user's input (a file, a text, an argument) cannot be used as given."""


class CheckpointError(SeqcoreError):
    """A checkpoint is missing, corrupt, or does not fit the model it is loaded into."""


class TrainingLimitError(SeqcoreError):
    """The server is already running as many training jobs as it allows."""
