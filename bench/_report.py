"""Shared by the benchmark scripts: machine facts and rewriting one section of BENCHMARKS.md."""

from __future__ import annotations

import datetime as dt
import platform
import re
import shlex
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
HEADER = "# Benchmarks\n\nEvery table is written by a script in `bench/`; `make bench` reruns them all.\n"


def machine_line() -> str:
    """One line: date, machine, device, versions, and the command that made the table."""
    import os

    import torch

    from seqcore.device import device_name

    cmd = shlex.join(["python", *sys.argv])
    return (
        f"_{dt.date.today().isoformat()} · {platform.machine()} · {os.cpu_count()} cores · "
        f"{device_name()} · torch {torch.__version__} · python {platform.python_version()} · "
        f"command: `{cmd}`_"
    )


def write_section(name: str, title: str, body: str) -> None:
    """Replace (or append) the section `name` of BENCHMARKS.md, leaving the others as they are."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n## {title}\n\n{machine_line()}\n\n{body.strip()}\n{end}"
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else HEADER
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    BENCHMARKS.write_text(text)


def markdown_table(rows: list[dict], floatfmt: str = ".3f") -> str:
    """A GitHub markdown table from a list of dicts with the same keys."""
    if not rows:
        return "_no rows_"
    cols = list(rows[0])

    def fmt(v):
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)
