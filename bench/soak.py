"""A soak: N browser sessions cycling through every page's main action for a set time, watching the server's memory
(issue 18, item 2).

One `streamlit run` server (started as bench/load.py starts it, or an existing one with --url), one headless
Chromium. N simulated users (--sessions, default 3) act at once, back to back, with bench/load.py's steps: each
page's main action with a new input every time (a new review, scene, sentence, seed, text ...). Users churn: every
--session-rounds rounds (default 3) a user closes its browser context and opens a new one, which is a new Streamlit
session, so per-session state that is never freed shows up as growth. New sessions start at the deadline no
more: a user finishes the cycle it is in, so the run lasts --minutes plus at most one cycle.

Before the clock starts, one untimed session visits every page (every default model loaded, as in
bench/load.py), and the home page's "Loaded models" table is read; it is read again at the end, and every model held
at both times must have the same SHA-256 of its weights.

Errors (must be 0): exception elements, st.error boxes, uncaught JavaScript errors and timeouts (--timeout a step),
counted as bench/load.py counts them. Latency: p50 / p95 / max of each page's main action.

Memory: VmRSS of the server process and its children (/proc), sampled every --every seconds (default 2). The first
--warmup of the run (default 10%, e.g. 3 of 30 minutes) is warm-up: caches fill (the attention explorer's 16 inputs,
the music page's tunes ...) and Python's allocator grows its arenas, so it is left out of the growth figure.
  after warm-up = the median of the samples in the window that starts where warm-up ends
  end           = the median of the samples in the last window of the run
  growth        = (end - after warm-up) / after warm-up, in percent
The window is one minute, or a tenth of the run when that is shorter; medians make one spike (a plotly figure
being built, a garbage collection) count for nothing. Streamlit keeps a closed session's state for
server.disconnectedSessionTTL (120 s) after its websocket closes, so every window holds about as many dead sessions
as live ones: they are part of the steady state, not growth.

Verdict (exit 1 otherwise): growth < --max-growth (10%), 0 errors, and the weights unchanged.

Run: python bench/soak.py [--sessions 3] [--minutes 30] [--session-rounds 3] [--pages sentiment,captioning]
                          [--warmup 0.1] [--every 2] [--url URL --pid PID --label TEXT]
                          [--section soak] [--no-write] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._report import markdown_table, write_section  # noqa: E402
from bench.load import (  # noqa: E402
    BROWSER_ARGS,
    Failure,
    MemorySampler,
    Sample,
    browser_plan,
    compare_weights,
    latency_summary,
    process_cpu_s,
    read_all,
    run_session,
    warm_up,
)
from bench.pages import CHROMIUM, Server  # noqa: E402

MAX_GROWTH_PCT = 10.0


# ---- pure parts (tests/test_soak_bench.py) --------------------------------------------------

class Timed(list):
    """A list that notes when each item was added (seconds since `t0`): run_session appends its samples and
    failures to the lists it is given, and the soak needs to know when each happened (per-minute table)."""

    def __init__(self, t0: float):
        super().__init__()
        self.t0, self.times = t0, []

    def append(self, item) -> None:
        super().append(item)
        self.times.append(time.perf_counter() - self.t0)

    def __iadd__(self, items):  # run_session adds failures with +=
        for item in items:
            self.append(item)
        return self


def window_s(duration_s: float) -> float:
    """The width of the windows whose medians are compared: one minute, or a tenth of a shorter run."""
    return min(60.0, duration_s / 10)


def median_between(series: list[tuple[float, float]], lo: float, hi: float) -> float | None:
    """The median RSS of the samples taken at lo <= t < hi (None if there are none)."""
    got = [mb for t, mb in series if lo <= t < hi]
    return statistics.median(got) if got else None


def rss_growth(series: list[tuple[float, float]], duration_s: float, warmup_s: float) -> dict:
    """Start, after warm-up, peak, end and growth (%) of an RSS series [(seconds since start, MiB)] (see the
    module docstring). The end window is the last one before `duration_s` (the planned length: samples taken while
    users finish their last cycle are in the table, not in the figure), never before the after-warm-up window."""
    if not series:
        return {"start": None, "after_warmup": None, "peak": None, "end": None, "growth_pct": None}
    w = window_s(duration_s)
    base = median_between(series, warmup_s, warmup_s + w)
    end = median_between(series, max(duration_s - w, warmup_s), duration_s)
    return {"start": series[0][1], "after_warmup": base, "peak": max(mb for _, mb in series), "end": end,
            "window_s": w, "warmup_s": warmup_s,
            "growth_pct": None if base is None or end is None else 100 * (end - base) / base}


def bucket_s(duration_s: float) -> float:
    """Rows of the RSS table: one a minute for runs up to 30 minutes (at least 10 rows: a tenth of a shorter
    run), 30 rows for a longer one."""
    return max(duration_s / 30, min(60.0, duration_s / 10))


def rss_rows(series: list[tuple[float, float]], duration_s: float, action_times: list[float] = (),
             error_times: list[float] = ()) -> list[dict]:
    """The RSS table: per time bucket, the median / min / max RSS sampled in it and the actions and errors
    that ended in it (a last partial bucket holds the cycles that ran past the deadline)."""
    if not series:
        return []
    step = bucket_s(duration_s)
    end = max(duration_s, series[-1][0])
    rows, lo = [], 0.0
    while lo < end - 1e-9:
        hi = lo + step
        got = [mb for t, mb in series if lo <= t < hi or (hi >= end and t >= lo)]
        if got:
            rows.append({"from min": round(lo / 60, 1), "to min": round(min(hi, end) / 60, 1),
                         "RSS median MiB": round(statistics.median(got)), "min MiB": round(min(got)),
                         "max MiB": round(max(got)), "actions": sum(lo <= t < hi for t in action_times),
                         "errors": sum(lo <= t < hi for t in error_times)})
        lo = hi
    return rows


def verdict(growth_pct: float | None, errors: int, weights: dict, max_growth: float = MAX_GROWTH_PCT) -> list[str]:
    """What fails the soak (empty: it passed)."""
    why = []
    if growth_pct is None:
        why.append("no RSS samples after warm-up")
    elif growth_pct >= max_growth:
        why.append(f"RSS grew {growth_pct:.1f}% after warm-up (limit {max_growth:g}%)")
    if errors:
        why.append(f"{errors} error(s)")
    if weights.get("changed"):
        why.append("weights changed: " + "; ".join(weights["changed"]))
    elif not weights.get("identical"):
        why.append("no model was held both before and after to compare")
    return why


# ---- the run ------------------------------------------------------------------------------

class RssSeries(MemorySampler):
    """bench/load.py's MemorySampler that also keeps every sample, (seconds since t0, MiB)."""

    def __init__(self, pids: list[int], every: float, t0: float):
        super().__init__(pids, every)
        self.t0, self.series = t0, []

    def _run(self) -> None:
        while not self._stop.is_set():
            mb = self.now()
            self.peak = max(self.peak, mb)
            self.series.append((time.perf_counter() - self.t0, mb))
            self._stop.wait(self.every)


@dataclass
class SoakResult:
    sessions: int
    minutes: float
    session_rounds: int
    pages: list[str]
    duration_s: float = 0.0
    contexts: int = 0  # browser contexts opened (Streamlit sessions), warm-up and inspectors not counted
    samples: list[dict] = field(default_factory=list)  # load.Sample + "t" (seconds since the start)
    failures: list[dict] = field(default_factory=list)  # load.Failure + "t"
    warmup_failures: list[dict] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)
    growth: dict = field(default_factory=dict)
    weights: dict = field(default_factory=dict)
    server_cpu_s: float | None = None
    verdict: list[str] = field(default_factory=list)


async def user(browser, url: str, u: int, n_users: int, plan, args, deadline: float, samples: Timed,
               failures: Timed, opened: list[int]) -> None:
    """One simulated user: a browser context (a Streamlit session) for --session-rounds rounds of every page,
    then a new one, until the deadline. Context c of user u is session u + n_users * c to run_session, so
    every context gets inputs no other has had (run_session's input number is 1000 * session + round) and
    starts at another page."""
    c = 0
    while time.perf_counter() < deadline:
        opened.append(1)
        await run_session(browser, url, u + n_users * c, plan, args.session_rounds, args.think,
                          args.timeout * 1000, samples, failures)
        c += 1


async def soak(url: str, plan, args, pids: list[int]) -> SoakResult:
    from playwright.async_api import async_playwright

    res = SoakResult(args.sessions, args.minutes, args.session_rounds, [s.path for s in plan])
    timeout_ms = args.timeout * 1000
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            warm_failures: list[Failure] = []
            ctxs, _replicas, before = await warm_up(browser, url, plan, timeout_ms, warm_failures)
            res.warmup_failures = [asdict(f) for f in warm_failures]
            t0 = time.perf_counter()
            samples, failures, opened = Timed(t0), Timed(t0), []
            sampler = RssSeries(pids, args.every, t0) if pids else None
            if sampler:
                sampler.__enter__()
            cpu0 = process_cpu_s(pids) if pids else None
            try:
                deadline = t0 + args.minutes * 60
                await asyncio.gather(*(user(browser, url, u, args.sessions, plan, args, deadline, samples,
                                            failures, opened) for u in range(args.sessions)))
            finally:
                res.duration_s = time.perf_counter() - t0
                if sampler:
                    sampler.__exit__(None, None, None)
                    res.rss = sampler.series
                if pids:
                    res.server_cpu_s = process_cpu_s(pids) - cpu0
            res.contexts = len(opened)
            res.samples = [{**asdict(s), "t": t} for s, t in zip(samples, samples.times, strict=True)]
            res.failures = [{**asdict(f), "t": t} for f, t in zip(failures, failures.times, strict=True)]
            _replicas, after = await read_all(ctxs, url)
            res.weights = compare_weights(before, after)
        finally:
            await browser.close()
    # growth over the planned length: while users finish their last cycle past the deadline, fewer act at once
    planned = min(res.duration_s, args.minutes * 60)
    res.growth = rss_growth(res.rss, planned, args.warmup * planned)
    res.verdict = verdict(res.growth["growth_pct"], len(res.failures) + len(res.warmup_failures), res.weights,
                          args.max_growth)
    return res


# ---- the report ---------------------------------------------------------------------------

def mib(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}"


def report(res: SoakResult, args, plan, load_start, load_end) -> str:
    g = res.growth
    samples = [Sample(**{k: v for k, v in s.items() if k != "t"}) for s in res.samples]
    summary = latency_summary(samples)
    labels = {s.path: s.label for s in plan}
    failures = res.warmup_failures + res.failures
    where = (f"{args.label or 'an existing server'} at `{args.url}`" if args.url else
             "one server started by the script as `make run` starts it (scripts/app_server.py, via bench/pages.py)")
    w = res.weights
    head = [{
        "sessions at once": res.sessions, "minutes": round(res.duration_s / 60, 1),
        "browser sessions opened": res.contexts, "actions": summary.get("all", {}).get("runs", 0),
        "errors": len(failures),
        "RSS start MiB": mib(g.get("start")), "after warm-up MiB": mib(g.get("after_warmup")),
        "peak MiB": mib(g.get("peak")), "end MiB": mib(g.get("end")),
        "growth after warm-up": "-" if g.get("growth_pct") is None else f"{g['growth_pct']:+.1f}%",
        "server cores busy": "-" if res.server_cpu_s is None or not res.duration_s
        else round(res.server_cpu_s / res.duration_s, 2),
        "weights identical": ("yes" if w.get("identical") else "**NO**" if w.get("changed") else "n/a")
        + (f" ({w['compared']} models)" if w.get("compared") else ""),
        "verdict": "pass" if not res.verdict else "**FAIL**",
    }]
    per_action = [{"main action": labels.get(p, "all pages"), "runs": v["runs"], "p50 s": round(v["p50"], 2),
                   "p95 s": round(v["p95"], 2), "max s": round(v["max"], 2)}
                  for p, v in sorted(summary.items(), key=lambda kv: (kv[0] == "all", kv[0]))]
    action_times = [s["t"] for s in res.samples if s["kind"] == "action"]
    rows = rss_rows(res.rss, res.duration_s, action_times, [f["t"] for f in res.failures])
    return (
        f"{where}; one headless Debian Chromium (Playwright async API). {res.sessions} simulated users act at once, "
        f"back to back with no think time, through bench/load.py's main action of every page "
        f"({', '.join(res.pages)}), a new input every time. Every {res.session_rounds} rounds of the pages a user "
        "closes its browser context and opens a new one (a new Streamlit session), so state a session leaves "
        "behind accumulates. Before the clock starts one untimed session visits every page (default models "
        f"loaded). Memory: VmRSS of the server process and its children every {args.every:g} s. The first "
        f"{args.warmup:.0%} of the run is warm-up; *after warm-up* is the median RSS of the "
        f"{g.get('window_s', 0):.0f} s after it, *end* the median of the last such window of the planned time, "
        "*growth* their ratio minus one (medians, so one spike counts for nothing). "
        f"Pass: growth under {args.max_growth:g}%, 0 errors (exception elements, "
        f"`st.error` boxes, JavaScript errors, timeouts of {args.timeout:g} s) and the weights of every model "
        "held before and after unchanged (SHA-256, the home page's *Loaded models*).\n\n"
        + markdown_table(head, ".2f")
        + "\n\n"
        + ("**Fails:** " + "; ".join(res.verdict) + "\n\n" if res.verdict else "")
        + "### Main action latency\n\n"
        + markdown_table(per_action, ".2f")
        + "\n\n### Server RSS over time\n\n"
        + markdown_table(rows, ".1f")
        + "\n\n"
        + (("**Errors:** " + "; ".join(f"session {f['session']} {f['page']}: {f['what']}" for f in failures[:10])
            + (f" (and {len(failures) - 10} more)" if len(failures) > 10 else "") + "\n\n") if failures else "")
        + f"Load average (1/5/15 min) at the start {load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f}, "
        f"at the end {load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f}: a 2-core CPU shared with other "
        "jobs and with the browser, so latency is noisy; memory is what the soak judges."
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=3, help="simulated users acting at once")
    ap.add_argument("--minutes", type=float, default=30.0, help="length of the run (users finish their cycle)")
    ap.add_argument("--session-rounds", type=int, default=3,
                    help="rounds of the pages before a user closes its browser context and opens a new one")
    ap.add_argument("--pages", help="comma list of page paths (default: every page bench/load.py drives)")
    ap.add_argument("--warmup", type=float, default=0.1, help="fraction of the run left out of the growth figure")
    ap.add_argument("--every", type=float, default=2.0, help="seconds between RSS samples")
    ap.add_argument("--max-growth", type=float, default=MAX_GROWTH_PCT, help="RSS growth limit after warm-up, %%")
    ap.add_argument("--think", type=float, default=0.0, help="seconds a user waits between steps")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one step may take before it is an error")
    ap.add_argument("--url", help="an existing server; default: start one")
    ap.add_argument("--label", help="with --url: what serves it, for the report")
    ap.add_argument("--pid", type=int, action="append", default=[],
                    help="with --url: a server process whose tree's memory to sample (repeatable); without one "
                         "there is no growth figure and the soak fails")
    ap.add_argument("--section", default="soak", help="BENCHMARKS.md section to write")
    ap.add_argument("--no-write", action="store_true", help="print the report, leave BENCHMARKS.md alone")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    if args.sessions < 1 or args.session_rounds < 1 or args.minutes <= 0 or not 0 <= args.warmup < 0.9:
        sys.exit("--sessions and --session-rounds take positive counts, --minutes a positive time, "
                 "--warmup a fraction under 0.9")
    plan = browser_plan(args.pages, "bench/soak.py")

    load_start = os.getloadavg()
    server = None if args.url else Server(tempfile.mkdtemp(prefix="bench-soak-home-"))
    try:
        url = args.url or server.url
        res = asyncio.run(soak(url, plan, args, args.pid if args.url else [server.proc.pid]))
    finally:
        if server:
            server.stop()
    body = report(res, args, plan, load_start, os.getloadavg())
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(res), indent=1))
    if not args.no_write:
        write_section(args.section, "Soak: sessions cycling through every page for a long time", body)
    print(body)
    if res.verdict:
        sys.exit(1)


if __name__ == "__main__":
    main()
