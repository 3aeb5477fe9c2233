"""`streamlit run app.py` with the model package imported before the server takes its first session.

Streamlit imports a page's modules inside the first session that opens the page, so the first visitor after a
restart waited for torch, pandas, yfinance and scikit-learn to import (about 2-3 s on a 2-core CPU) on top of
the page itself. Importing every `seqcore.tasks` and `seqcore.data` module here, before /_stcore/health
answers, moves that cost to start-up, when nobody is waiting on a page (the same idea as gunicorn's
--preload). Page scripts still import what they use; they find it in sys.modules.

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


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    names = preload()
    print(f"preloaded {len(names)} seqcore modules in {time.perf_counter() - t0:.1f} s", flush=True)
    from streamlit.web import cli

    return cli.main(["run", str(ROOT / "app.py"), *argv], prog_name="streamlit", standalone_mode=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
