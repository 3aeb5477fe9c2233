"""`streamlit run app.py` with the model package imported before the server takes its first session.

Streamlit imports a page's modules inside the first session that opens the page, so the first visitor after a
restart waited for torch, pandas, yfinance and scikit-learn to import (about 2-3 s on a 2-core CPU) on top of
the page itself. Importing every `seqcore.tasks` and `seqcore.data` module here, before /_stcore/health
answers, moves that cost to start-up, when nobody is waiting on a page (the same idea as gunicorn's
--preload). Page scripts still import what they use; they find it in sys.modules.

It also turns off Streamlit's legacy `pages/` folder mode (see use_st_navigation_only).

Usage: python scripts/app_server.py [any `streamlit run` option ...]
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def preload() -> list[str]:
    """Import every module under seqcore.tasks and seqcore.data; returns their names."""
    import plotly.graph_objects  # noqa: F401
    import plotly.subplots  # noqa: F401

    import seqcore.data
    import seqcore.tasks

    names = []
    for pkg in (seqcore.tasks, seqcore.data):
        for info in pkgutil.iter_modules(pkg.__path__, prefix=f"{pkg.__name__}."):
            importlib.import_module(info.name)
            names.append(info.name)
    return names


def warm_data() -> None:
    """Build what the translation page reads on its first run (the Tatoeba split: ~1 s; the translation
    memory's TF-IDF index: ~2 s) before the server answers its health check, so the first visitor does not wait
    for it. Not in a background thread: there it competed with the first sessions for the GIL and the CPU, and every
    page's first render after a start was 0.9-1.9 s slower (home 2.8 -> 3.7 s, sentiment 6.5 -> 7.9 s, two busy
    cores); a host's health check waits for it instead (start to healthy 4.0 -> 8.8 s on that machine)."""
    from seqcore.data import tatoeba
    from seqcore.tasks.translation_baselines import translation_memory

    tatoeba.split("test")
    translation_memory()


def use_st_navigation_only() -> None:
    """Make Streamlit route every run through app.py's st.navigation, never through its legacy `pages/` mode.

    Streamlit 1.67 decides per process, when the first session starts, that an app with a `pages/` folder is a
    "v1" multipage app, and only st.navigation() running in app.py turns that off. So when the first visitor
    after a start opens /forecast directly, app.py never runs: the page runs bare, the sidebar lists every file
    in pages/ (_shared.py, the figure modules...) as pages, and it stays so for every session until someone
    opens the home page. The folder name is the user's choice, so the flag is cleared before any session.
    """
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number (malloc.h)


def fixed_mmap_threshold(size: int = 256 * 1024) -> bool:
    """Keep glibc's allocator from moving big buffers into its heaps, where they fragment and are never given back.

    glibc gives an allocation of at least M_MMAP_THRESHOLD bytes its own mmap, returned to the system on free, but
    every time such a block is freed it raises the threshold to that block's size (up to 32 MiB). After a few page
    runs the multi-megabyte buffers every rerun makes (plotly JSON, audio, tensors, protobufs) came from the heaps of
    the script threads' arenas instead. bench/soak.py, 3 sessions: the server's RSS grew 15-18% in 8-16 minutes while
    glibc's memory in use stayed at ~270 MiB and its free-but-kept memory grew from 50 to 470 MiB; with the threshold
    fixed, free memory stayed at ~10 MiB and RSS flat. Setting it turns the adjustment off. A host's own
    MALLOC_MMAP_THRESHOLD_ wins; False where there is no glibc mallopt (macOS, musl) or it refused.
    """
    import ctypes
    import os

    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, size))


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    fixed_mmap_threshold()  # before torch and the page scripts allocate anything big
    use_st_navigation_only()
    t0 = time.perf_counter()
    names = preload()
    print(f"preloaded {len(names)} seqcore modules in {time.perf_counter() - t0:.1f} s", flush=True)
    t0 = time.perf_counter()
    warm_data()
    print(f"built the translation page's data in {time.perf_counter() - t0:.1f} s", flush=True)
    from streamlit.web import cli

    return cli.main(["run", str(ROOT / "app.py"), *argv], prog_name="streamlit", standalone_mode=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
