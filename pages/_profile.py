"""Opt-in profiling of page runs inside the real server, for finding what makes a page slow (issue 9).

Set SEQCORE_PROFILE_DIR to a folder and every script run is recorded by pyinstrument (the page's own thread,
so widgets, seqcore calls and figure building all show) and written there as `<page>-<n>.txt` and `.html`.
Off by default: with the variable unset this costs one environment lookup per run.

    SEQCORE_PROFILE_DIR=/tmp/profiles make run
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path

_counter = itertools.count(1)


@contextlib.contextmanager
def profiled(page: str) -> Iterator[None]:
    folder = os.environ.get("SEQCORE_PROFILE_DIR")
    if not folder:
        yield
        return
    from pyinstrument import Profiler

    profiler = Profiler(interval=0.001)
    profiler.start()
    try:
        yield
    finally:
        # st.rerun / st.stop leave through exceptions: the run so far is still worth keeping.
        profiler.stop()
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"{re.sub(r'[^A-Za-z0-9_-]+', '_', page) or 'home'}-{next(_counter):04d}"
        (out / f"{stem}.txt").write_text(profiler.output_text(unicode=True, color=False))
        (out / f"{stem}.html").write_text(profiler.output_html())
