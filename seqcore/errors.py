"""The project's own error types: pages show them with st.error, the CLI exits 2 on them."""


class SeqcoreError(Exception):
    """Base class: a message meant for a person, saying what to change."""


class InputError(SeqcoreError, ValueError):
    """The user's input (a file, a text, an argument) cannot be used as given."""


class CheckpointError(SeqcoreError):
    """A checkpoint is missing, corrupt, or does not fit the model it is loaded into."""


class TrainingLimitError(SeqcoreError):
    """The server is already running as many training jobs as it allows."""


def quote(value: object, limit: int = 40) -> str:
    """A user's value inside a message: its repr (control and invisible characters show as escapes), cut to `limit`
    characters, so that a 100,000-character input still gives a one-line message."""
    text = str(value)
    return repr(text[:limit]) + (f"… ({len(text):,} characters)" if len(text) > limit else "")


def listing(values, most: int = 12, limit: int = 40) -> str:
    """Names from a user's file (e.g. its columns) for a message: the first `most`, each cut to `limit` characters."""
    names = [str(v) if len(str(v)) <= limit else str(v)[:limit] + "…" for v in values]
    return ", ".join(names[:most]) + (f" and {len(names) - most:,} more" if len(names) > most else "")
