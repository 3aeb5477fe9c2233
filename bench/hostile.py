"""The hostile-input catalogue (tests/hostile_inputs.py) through a real Chromium, as a report (issue 18, item 3).

The same driver as tests/test_hostile_e2e.py (which fails on any problem, in `make test`) on a server started as
`make run` starts it; this script writes what each text box and upload did with each case to BENCHMARKS.md:
refused with a message (and which), kept out by the box itself (max_chars), accepted with a warning, or accepted,
plus every problem the test would fail on.

Run: python bench/hostile.py [--pages forecast,music] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The server and this process share one SEQCORE_HOME: the ticker box's normal Fetch reads prices this script puts
# in the download cache (tests/test_hostile_e2e.seed_live_prices). Set before tests.conftest sets its own default.
os.environ["SEQCORE_HOME"] = tempfile.mkdtemp(prefix="bench-hostile-home-")

from bench._report import markdown_table, write_section  # noqa: E402
from bench.load import BROWSER_ARGS  # noqa: E402
from bench.pages import CHROMIUM, Server  # noqa: E402
from tests.hostile_inputs import TARGETS, TEXT_CASES, WIDGET  # noqa: E402
from tests.test_hostile_e2e import drive, seed_live_prices  # noqa: E402


def outcome(t, case: str) -> str:
    """What the catalogue expects of (target, case); the run checks it and reports any problem."""
    if t.refuse.get(case) == WIDGET:
        return "kept out by the box"
    if case in t.refuse:
        return "refused with a message"
    return "accepted, with a warning" if case in t.warn else "accepted"


def answer(t, case: str, said: list) -> str:
    """The message that answered (target, case): the one holding the catalogue's words for it (the page may show
    other notes beside it, e.g. a page's standing info box), else the first that is not a success."""
    words = t.refuse.get(case) or t.warn.get(case)
    notes = [m for kind, m in said if kind != "success"]
    if words and words != WIDGET:
        notes = [m for m in notes if all(w.lower() in m.lower() for w in words)] or notes
    return notes[0] if notes else ""


def run(pages: list[str]) -> tuple[list[dict], list[str], list[dict]]:
    from playwright.sync_api import sync_playwright

    from tests.conftest import new_context

    seed_live_prices()
    seen: dict[tuple[str, str], list] = {}
    rows, failures, timings = [], [], []
    server = Server(os.environ["SEQCORE_HOME"])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            for name in pages:
                targets = [t for t in TARGETS if t.page.split("?")[0] == name]
                context = new_context(browser)
                page = context.new_page()
                page.set_default_timeout(60_000)
                t0 = time.perf_counter()
                found = drive(page, server.url, targets, log=lambda key, case, said: seen.__setitem__((key, case),
                                                                                                       said))
                timings.append({"page": name, "targets": len(targets),
                                "cases": sum(len(t.cases) for t in targets), "seconds": time.perf_counter() - t0})
                failures += found
                context.close()
                for t in targets:
                    for case in t.cases:
                        rows.append({"page": name, "box": t.key, "case": case, "outcome": outcome(t, case),
                                     "message": answer(t, case, seen.get((t.key, case), []))})
        finally:
            browser.close()
            server.stop()
    return rows, failures, timings


def one_line(text: str, most: int = 110) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= most else text[:most] + "…"


def report(rows: list[dict], failures: list[str], timings: list[dict]) -> str:
    per_box = []
    for key in dict.fromkeys(r["box"] for r in rows):
        mine = [r for r in rows if r["box"] == key]
        count = Counter(r["outcome"] for r in mine)
        problems = sum(f.split(" / ")[1] == key for f in failures)
        per_box.append({"page": mine[0]["page"], "text box or upload": f"`{key}`", "cases": len(mine),
                        "refused with a message": count["refused with a message"],
                        "kept out by the box": count["kept out by the box"],
                        "accepted (with a warning)": f"{count['accepted'] + count['accepted, with a warning']} "
                                                     f"({count['accepted, with a warning']})",
                        "problems": problems})
    said = [{"box": f"`{r['box']}`", "case": r["case"], "what the page said": one_line(r["message"])}
            for r in rows if r["outcome"] in ("refused with a message", "accepted, with a warning")]
    total_s = sum(t["seconds"] for t in timings)
    verdict = (f"**{len(failures)} problem(s)**:\n\n" + "\n".join(f"- {one_line(f, 300)}" for f in failures)
               if failures else "**No problem**: no exception element, no uncaught JavaScript error, no injected "
               "script run or markup rendered, every refused case told the user what to change, and the normal "
               "input worked again after it.")
    return f"""`python bench/hostile.py` runs the catalogue of `tests/hostile_inputs.py` through headless Debian
Chromium against a server started as `make run` starts it, with the driver of `tests/test_hostile_e2e.py` (which runs in
`make test` and fails on any problem). Text cases ({len(TEXT_CASES)}): {', '.join(TEXT_CASES)}; the ticker box and
the translation box add a few short or Chinese injections. Upload cases: a 0-byte file, random bytes, an ELF
executable, a PNG, a WAV, a decompression-bomb PNG (2.5 gigapixels in 0.3 MB), a WAV header claiming ten hours,
markup in the file name (each renamed to the widget's own extension) and a file over the widget's size limit.
After every rerun: no exception element, no uncaught JavaScript error, `window.__pwned` unset in every frame, no
injected markup rendered; a refused case needs a message with the catalogue's words and is followed by the normal
input, which must give the normal result again.

{verdict}

{markdown_table(per_box)}

{len(rows)} cases on {len(per_box)} text boxes and uploads of {len(timings)} pages in {total_s:.0f} s
({', '.join(f"{t['page']} {t['seconds']:.0f} s" for t in timings)}).

What the page said to each refused case (first message; the upload widget's own refusal shows as its chip):

{markdown_table(said)}"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    every = list(dict.fromkeys(t.page.split("?")[0] for t in TARGETS))
    ap.add_argument("--pages", help=f"comma list of pages (default: all of {', '.join(every)})")
    ap.add_argument("--no-write", action="store_true", help="print the report, leave BENCHMARKS.md alone")
    args = ap.parse_args()
    pages = args.pages.split(",") if args.pages else every
    if unknown := set(pages) - set(every):
        sys.exit(f"--pages: no hostile-input rows for {', '.join(sorted(unknown))}; pages with rows: "
                 f"{', '.join(every)}")
    if not os.path.exists(CHROMIUM):
        sys.exit(f"bench/hostile.py needs {CHROMIUM} (make browser installs it)")
    body = report(*run(pages))
    if not args.no_write:
        write_section("hostile", "Hostile input in a real browser", body)
    print(body)


if __name__ == "__main__":
    main()
