"""Many users at once: N concurrent real browser sessions against one Streamlit server (issues 8 and 10).

One `streamlit run` server (started as bench/pages.py starts it, or an existing one with --url), one headless
Chromium (Debian's) driven by Playwright's async API, N browser contexts = N independent Streamlit sessions
running at the same time. Each session visits every page, starting at a different page (session i starts at
page i mod 7, so the pages are mixed as in a class), and on each page does its main action once per round:

  forecast    what-if shock +1% (re-forecast with the shared weights)
  music       generate a tune with a new seed (500 chars, LSTM)
  sentiment   predict a new review (Ctrl+Enter)
  captioning  new scene -> captions
  translation a new Chinese sentence -> both models' translations (beam 4) and the alignment
  attention   new input text -> step-through
  memory lab  view: open the page until its shipped run's accuracy chart is drawn (its only other action
              is training, which this benchmark leaves out)

An action's latency runs from the click / key press to the rerun it caused finishing and its result element
being visible. The end of the rerun is read from the websocket (Streamlit's own protobuf messages: the
server's script_finished for a rerun the page requested after the action), not from the app's script-state
attribute, which a starved browser can skip over (see Frames); a step that fails reports what went over the
websocket since it started. Sessions act back to back with no think time unless --think:
a worst case for the server, since a person reads a result before the next click.

Errors (must be 0): exception elements (`stException`), `st.error` boxes, timeouts (--timeout per step) and
uncaught JavaScript errors in the page. Memory: VmRSS of the server process and its children (/proc), sampled
every 0.5 s during the run; peak reported. Weight integrity: the home page's "Loaded models" table (app.py)
lists every model held in the pages' `st.cache_resource` caches with a SHA-256 of its weights; it is read
before and after the load, and every model held at both times must hash the same.

Sessions per replica: the largest N with 0 errors, unchanged weights and a main-action p50 over all pages under
--target-p50 (2 s: a typical action answers within the 1-2 s target). A p95 bound is judged too when --target-p95
is given; by default it is reported, not judged, because two actions take longer than 2 s even for one user on
this CPU (music generation and the attention explorer's step-through).

Pages are reached by their sidebar link (a client-side switch, as a person moves between pages), and with --url
behind make serve's nginx the warm-up and the weight reads run once per replica (one browser context sticks to
one replica through its route cookie).

Run: python bench/load.py [--sessions 10 | --sessions 1,2,3,5,10] [--rounds 1] [--think 0]
                          [--url http://host:port --label TEXT --pid PID ...] [--pages sentiment,captioning]
                          [--section load] [--no-write] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._frames import Frames  # noqa: E402
from bench._report import markdown_table, write_section  # noqa: E402
from bench.pages import CHROMIUM, IDLE, Server, pages  # noqa: E402

TARGET_P50_S = 2.0
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream"]
ERRORS_JS = """() => [
  ...Array.from(document.querySelectorAll("[data-testid='stException']"), (e) => 'exception: ' + e.innerText),
  ...Array.from(document.querySelectorAll("[data-testid='stAlertContentError']"), (e) => 'st.error: ' + e.innerText),
]"""
TABLE_JS = """() => {
  const t = document.querySelector('.st-key-home-loaded-models table');
  return t ? Array.from(t.querySelectorAll('tr'), (tr) => Array.from(tr.querySelectorAll('th,td'),
                                                                      (c) => c.textContent.trim())) : null;
}"""


# ---- pure parts (tests/test_load_bench.py) --------------------------------------------------

def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between order statistics (numpy's default)."""
    if not values:
        return float("nan")
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Sample:
    session: int
    page: str
    kind: str  # "open" (navigate until the page's main element is drawn) or "action"
    seconds: float


@dataclass
class Failure:
    session: int
    page: str
    what: str


@dataclass
class PointResult:
    sessions: int
    samples: list[Sample] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    warmup_failures: list[Failure] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float | None = None
    browser_cpu_s: float | None = None
    rss_start_mb: float | None = None
    rss_peak_mb: float | None = None
    weights: dict = field(default_factory=dict)


def latency_summary(samples: list[Sample], kind: str = "action") -> dict[str, dict]:
    """Per page and overall ("all"): runs, p50, p95, max seconds of one kind of sample."""
    by_page: dict[str, list[float]] = {}
    for s in samples:
        if s.kind == kind:
            by_page.setdefault(s.page, []).append(s.seconds)
    out = {p: {"runs": len(v), "p50": percentile(v, 50), "p95": percentile(v, 95), "max": max(v)}
           for p, v in by_page.items()}
    every = [x for v in by_page.values() for x in v]
    if every:
        out["all"] = {"runs": len(every), "p50": percentile(every, 50), "p95": percentile(every, 95),
                      "max": max(every)}
    return out


def parse_loaded_models(table: list[list[str]] | None) -> dict[str, dict]:
    """The home page's Loaded models table (header row first) -> {object id: row}."""
    if not table:
        return {}
    header, *rows = table
    out = {}
    for cells in rows:
        row = dict(zip(header, cells, strict=False))
        if "object" in row:
            out[row["object"]] = row
    return out


def compare_weights(before: dict[str, dict], after: dict[str, dict]) -> dict:
    """Models held both before and after must have the same weight hash; the others are counted, not judged
    (a bounded cache may evict an entry, and an action may load a model that was not held yet)."""
    key = "SHA-256 of the weights"
    both = sorted(set(before) & set(after))
    changed = [f"{before[o].get('checkpoint') or before[o].get('model')} ({before[o].get('held by')})"
               for o in both if before[o].get(key) != after[o].get(key)]
    return {"before": len(before), "after": len(after), "compared": len(both), "changed": changed,
            "gone": len(set(before) - set(after)), "new": len(set(after) - set(before)),
            "identical": bool(both) and not changed}


def capacity(results: list[PointResult], p50: float, p95: float | None = None) -> int | None:
    """The largest session count that meets the criterion (ok_point)."""
    ok = [r.sessions for r in results if ok_point(r, p50, p95)]
    return max(ok) if ok else None


def ok_point(r: PointResult, p50: float, p95: float | None = None) -> bool:
    """No error, no changed weights, overall main-action p50 under `p50` s (and p95 under `p95` s if given)."""
    overall = latency_summary(r.samples).get("all")
    return (not r.failures and not r.warmup_failures and not r.weights.get("changed") and overall is not None
            and overall["p50"] < p50 and (p95 is None or overall["p95"] < p95))


def criterion(p50: float, p95: float | None = None) -> str:
    return f"p50 < {p50:g} s" + (f", p95 < {p95:g} s" if p95 is not None else "") + ", 0 errors"


def steps_done(r: PointResult) -> int:
    """Page opens plus actions (the memory lab's open is its action): the units of work the CPU went to."""
    return max(1, len(r.samples))


def per_second(cpu_s: float | None, wall_s: float) -> float | str:
    return "-" if cpu_s is None or not wall_s else round(cpu_s / wall_s, 2)


def sweep_rows(results: list[PointResult], p50: float, p95: float | None = None) -> list[dict]:
    rows = []
    for r in results:
        act, opn = latency_summary(r.samples).get("all", {}), latency_summary(r.samples, "open").get("all", {})
        w = r.weights
        rows.append({
            "sessions": r.sessions, "actions": act.get("runs", 0),
            "errors": len(r.failures) + len(r.warmup_failures),
            "action p50 s": round(act.get("p50", float("nan")), 2),
            "action p95 s": round(act.get("p95", float("nan")), 2),
            "action max s": round(act.get("max", float("nan")), 2),
            "page open p50 s": round(opn.get("p50", float("nan")), 2),
            "page open p95 s": round(opn.get("p95", float("nan")), 2),
            "actions / min": round(60 * act.get("runs", 0) / r.wall_s, 1) if r.wall_s else "",
            "server CPU s / step": "-" if r.server_cpu_s is None else round(r.server_cpu_s / steps_done(r), 2),
            "browser CPU s / step": "-" if r.browser_cpu_s is None else round(r.browser_cpu_s / steps_done(r), 2),
            # CPU seconds per wall second: how much of the machine each side had; a server far below its cores
            # while latency grows was starved by the clients or other jobs, not saturated by its sessions
            "server cores busy": per_second(r.server_cpu_s, r.wall_s),
            "browser cores busy": per_second(r.browser_cpu_s, r.wall_s),
            "server RSS start MiB": "-" if r.rss_start_mb is None else round(r.rss_start_mb),
            "server RSS peak MiB": "-" if r.rss_peak_mb is None else round(r.rss_peak_mb),
            "weights identical": ("yes" if w.get("identical") else "**NO**" if w.get("changed") else "n/a")
            + (f" ({w['compared']} models)" if w.get("compared") else ""),
            criterion(p50, p95): "yes" if ok_point(r, p50, p95) else "no",
        })
    return rows


def page_rows(results: list[PointResult], labels: dict[str, str]) -> list[dict]:
    """One row per page: p50 / p95 of its main action at each session count (a count run again, as in
    --sessions 10,10,10, gets a column per run)."""
    rows = []
    counts = [r.sessions for r in results]
    heads = [f"{n} sessions" + (f" (run {counts[:k + 1].count(n)})" if counts.count(n) > 1 else "")
             for k, n in enumerate(counts)]
    summaries = [(h, latency_summary(r.samples)) for h, r in zip(heads, results, strict=True)]
    for page, label in [*labels.items(), ("all", "all pages")]:
        row = {"main action": label}
        for head, s in summaries:
            v = s.get(page)
            row[f"{head}: p50 / p95 s"] = f"{v['p50']:.2f} / {v['p95']:.2f}" if v else "-"
        rows.append(row)
    return rows


# ---- the browser side ---------------------------------------------------------------------

@dataclass
class Step:
    path: str  # URL path of the page
    label: str  # the main action, for the tables
    ready: str  # selector of the element that means the page has drawn its main content
    action: Callable[..., Awaitable[float]] | None  # (pg, frames, n, timeout_ms) -> s; None: opening is the action


async def settle(pg, frames: Frames, t0: float, timeout_ms: float) -> None:
    """Wait for the rerun requested at or after t0 to finish (the websocket's script_finished), then for the
    frontend to be idle again, by which time it has drawn the whole run."""
    deadline = t0 + timeout_ms / 1000
    while not frames.finished_since(t0):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"no finished rerun within {timeout_ms / 1000:g} s" + frames.since(t0))
        await asyncio.sleep(0.02)
    await pg.wait_for_selector(IDLE, timeout=timeout_ms)


async def timed(pg, frames: Frames, act: Callable[[], Awaitable], result: str, timeout_ms: float) -> float:
    """Seconds from act() to the rerun it caused finishing and `result` being visible."""
    await pg.wait_for_selector(IDLE, timeout=timeout_ms)
    t0 = time.perf_counter()
    await act()
    await settle(pg, frames, t0, timeout_ms)
    await pg.locator(result).first.wait_for(state="visible", timeout=timeout_ms)
    return time.perf_counter() - t0



def browser_plan(pages: str | None, script: str) -> list:
    """The steps of the pages a comma list names (every page when None), for a script that drives Chromium; exits
    with a message when Chromium is missing or the list names no page. Shared by bench/load.py and bench/soak.py."""
    if not os.path.exists(CHROMIUM):
        sys.exit(f"{script} needs {CHROMIUM} (make browser installs it)")
    plan = steps(pages.split(",") if pages else None)
    if not plan:
        sys.exit(f"--pages names none of {[s.path for s in steps()]}")
    return plan

def steps(only: list[str] | None = None) -> list[Step]:
    ready = {path: sel for path, _, sel in pages()}
    weights = ready["attention"]

    async def forecast(pg, fr, n, t):
        await pg.locator(".st-key-forecast-shock input[type='range']").focus()
        return await timed(pg, fr, lambda: pg.keyboard.press("ArrowRight"), ".st-key-forecast-whatif-chart .main-svg",
                           t)

    async def music(pg, fr, n, t):
        box = pg.locator(".st-key-music-seed input")
        await box.fill(str(1000 + n))
        await timed(pg, fr, lambda: box.press("Enter"), ".st-key-music-generate button", t)  # the seed's rerun
        return await timed(pg, fr, pg.locator(".st-key-music-generate button").click, "[data-testid='stAudio']", t)

    async def sentiment(pg, fr, n, t):
        box = pg.locator(".st-key-sentiment-text-0 textarea")
        await box.fill(f"Review {n}: a moving film with a superb cast, though the ending dragged a little.")
        return await timed(pg, fr, lambda: box.press("Control+Enter"),
                           ".st-key-sentiment-result [data-testid='stDataFrame']", t)

    async def caption(pg, fr, n, t):
        return await timed(pg, fr, pg.locator(".st-key-captioning-new button").click,
                           ".st-key-captioning-overlay-lstm img", t)

    async def translation(pg, fr, n, t):
        box = pg.locator(".st-key-translation-text-0 textarea")
        await box.fill(f"我有{n % 97 + 2}个朋友。")
        return await timed(pg, fr, lambda: box.press("Control+Enter"), ready["translation"], t)

    async def attention(pg, fr, n, t):
        box = pg.locator(".st-key-attention-text input")
        await box.fill(f"the cat sat on mat {n}")
        return await timed(pg, fr, lambda: box.press("Enter"), weights, t)

    out = [
        Step("forecast", "forecast: what-if shock +1%", ready["forecast"], forecast),
        Step("music", "music: generate (new seed)", ready["music"], music),
        Step("sentiment", "sentiment: predict a new review", ready["sentiment"], sentiment),
        Step("captioning", "captioning: new scene", ready["captioning"], caption),
        Step("translation", "translation: new sentence", ready["translation"], translation),
        Step("attention", "attention: new input text", ready["attention"], attention),
        Step("memory_lab", "memory lab: view the shipped run", ready["memory_lab"], None),
    ]
    return [s for s in out if only is None or s.path in only]


async def new_page(browser, timeout_ms: float):
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(timeout_ms)
    pg = await ctx.new_page()
    return ctx, pg


async def run_session(browser, url: str, i: int, plan: list[Step], rounds: int, think: float, timeout_ms: float,
                      samples: list[Sample], failures: list[Failure], ctx=None) -> None:
    """One user: every page of `plan`, `rounds` times, in a new browser context (or in `ctx`, left open)."""
    own = ctx is None
    if own:
        ctx, pg = await new_page(browser, timeout_ms)
    else:
        pg = await ctx.new_page()
    frames = Frames(pg)
    js_errors: list[str] = []
    pg.on("pageerror", lambda e: js_errors.append(str(e)))
    k = i % len(plan)
    order = plan[k:] + plan[:k]
    try:
        for r in range(rounds):
            for step in order:
                n = 1000 * i + r  # a new input per session and round: no cached answer is reused
                try:
                    t0 = time.perf_counter()
                    # the sidebar link, as a person moves between pages: a client-side page switch over the same
                    # websocket; goto() would reload Streamlit's whole JavaScript app for every page
                    link = pg.locator(f"[data-testid='stSidebarNav'] a[href$='/{step.path}']")
                    if pg.url.split("?")[0].rstrip("/").endswith(f"/{step.path}"):  # one page in the plan: stay
                        t0 = 0.0  # the rerun that drew it has finished
                    elif await link.count():
                        await link.first.click()
                    else:
                        await pg.goto(f"{url}/{step.path}", timeout=timeout_ms)
                    await settle(pg, frames, t0, timeout_ms)
                    await pg.locator(step.ready).first.wait_for(state="visible", timeout=timeout_ms)
                    opened = time.perf_counter() - t0
                    if not t0:
                        pass
                    elif step.action is None:
                        samples.append(Sample(i, step.path, "action", opened))
                    else:
                        samples.append(Sample(i, step.path, "open", opened))
                    if step.action is not None:
                        samples.append(Sample(i, step.path, "action", await step.action(pg, frames, n, timeout_ms)))
                    failures += [Failure(i, step.path, e[:300]) for e in await pg.evaluate(ERRORS_JS)]
                except Exception as e:  # a timeout or a closed page is an error of this step, not of the run
                    first = (str(e).splitlines() or [""])[0]
                    seen = "" if "[websocket since" in first else frames.since(t0)
                    failures.append(Failure(i, step.path, f"{type(e).__name__}: {first[:400]}{await states(pg)}{seen}"))
                failures += [Failure(i, step.path, f"JavaScript: {e[:200]}") for e in js_errors]
                js_errors.clear()
                if think:
                    await asyncio.sleep(think)
    finally:
        await (ctx.close() if own else pg.close())


async def states(pg) -> str:
    """The app's script and connection state, to tell a lost rerun from a slow one or a dropped websocket."""
    try:
        got = await pg.evaluate("""() => { const a = document.querySelector("[data-testid='stApp']");
            return a ? ['script', 'connection'].map((k) => a.getAttribute(`data-test-${k}-state`)) : []; }""")
        return f" (script {got[0]}, connection {got[1]})" if got else " (no app element)"
    except Exception:  # the page may be gone; the error itself is already recorded
        return ""


async def read_loaded_models(ctx, url: str) -> tuple[str | None, dict[str, dict]]:
    """(replica label or None, {object id: row}) from the home page's Loaded models table, read in `ctx`."""
    pg = await ctx.new_page()
    try:
        await pg.goto(f"{url}/")
        await pg.locator("h1:has-text('Sequence Studio')").wait_for(state="visible")
        await pg.wait_for_selector(IDLE)
        await pg.get_by_text("Loaded models", exact=True).click()
        # the expander's body arrives after its caption: wait for the table or one of the "nothing" messages
        await pg.locator(".st-key-home-loaded-models").locator(
            "table, [data-testid='stAlert'], :text('No page has loaded')").first.wait_for(state="attached")
        table = await pg.evaluate(TABLE_JS)
        served = pg.get_by_text("Served by replica")
        replica = (await served.first.inner_text()).strip() if await served.count() else None
        return replica, parse_loaded_models(table)
    finally:
        await pg.close()


async def inspectors(browser, url: str, timeout_ms: float, tries: int = 6) -> list:
    """Browser contexts that each stick to one replica, one per replica seen (one for a plain server): behind
    make serve's nginx a context keeps its route cookie, so the after-read sees the same replica as before."""
    kept, seen = [], set()
    for _ in range(tries):
        ctx, pg = await new_page(browser, timeout_ms)
        await pg.close()
        replica, _rows = await read_loaded_models(ctx, url)
        if replica is None or replica not in seen:
            seen.add(replica)
            kept.append(ctx)
        else:
            await ctx.close()
        if replica is None:
            break
    return kept


async def read_all(ctxs, url: str) -> tuple[list[str | None], dict[str, dict]]:
    """The Loaded models rows of every inspected replica, keyed "replica/object id"."""
    replicas, rows = [], {}
    for ctx in ctxs:
        replica, got = await read_loaded_models(ctx, url)
        replicas.append(replica)
        rows.update({f"{replica or ''}/{k}": v for k, v in got.items()})
    return replicas, rows


def process_cpu_s(roots: list[int], exclude: list[int] = ()) -> float:
    """CPU seconds (user + system, with reaped children's) of the process trees under `roots`, leaving out
    the trees under `exclude`. Read at the start and the end of a run, the difference is what it used."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(d)] = fields
            children.setdefault(int(fields[1]), []).append(int(d))
    skip, todo = set(), list(exclude)
    while todo:
        pid = todo.pop()
        skip.add(pid)
        todo += children.get(pid, [])
    ticks, todo = 0, [r for r in roots if r not in skip]
    while todo:
        pid = todo.pop()
        todo += [c for c in children.get(pid, []) if c not in skip]
        if pid in stats:  # utime stime cutime cstime: fields 14-17 of stat, 11-14 after the ")"
            ticks += sum(int(x) for x in stats[pid][11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


class MemorySampler:
    """Peak VmRSS of the server's process trees, read from /proc every `every` s in a thread."""

    def __init__(self, pids: list[int], every: float = 0.5):
        # Server.rss_mb reads only self.proc.pid: reuse it for processes this script did not start
        self.procs = [SimpleNamespace(proc=SimpleNamespace(pid=p)) for p in pids]
        self.every, self.peak, self._stop = every, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> float:
        return sum(Server.rss_mb(p) for p in self.procs)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.now())
            self._stop.wait(self.every)

    def __enter__(self):
        self.start = self.now()
        self.peak = self.start
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.now())


async def warm_up(browser, url: str, plan: list[Step], timeout_ms: float, failures: list[Failure]):
    """One untimed visit of every page and action first, in each inspector's context (so every replica behind a
    proxy has its models loaded): "before" then lists every default model and a timed run measures serving, not
    loading. Returns (inspector contexts, replicas, the home page's loaded-models table); failures collects its
    errors."""
    ctxs = await inspectors(browser, url, timeout_ms)
    warm: list[Sample] = []
    for ctx in ctxs:
        await run_session(browser, url, 0, plan, 1, 0, timeout_ms, warm, failures, ctx=ctx)
    replicas, before = await read_all(ctxs, url)
    return ctxs, replicas, before


async def run_point(url: str, n: int, plan: list[Step], args, pids: list[int]) -> PointResult:
    from playwright.async_api import async_playwright

    res = PointResult(sessions=n)
    timeout_ms = args.timeout * 1000
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=BROWSER_ARGS)
        try:
            ctxs, replicas, before = await warm_up(browser, url, plan, timeout_ms, res.warmup_failures)
            sampler = MemorySampler(pids) if pids else None
            if sampler:
                sampler.__enter__()
            # CPU of the server trees vs. this process's own tree (Playwright's driver and Chromium)
            cpu0 = (process_cpu_s(pids), process_cpu_s([os.getpid()], exclude=pids))
            t0 = time.perf_counter()
            try:
                await asyncio.gather(*(run_session(browser, url, i, plan, args.rounds, args.think, timeout_ms,
                                                   res.samples, res.failures) for i in range(n)))
            finally:
                res.wall_s = time.perf_counter() - t0
                if pids:
                    res.server_cpu_s = process_cpu_s(pids) - cpu0[0]
                res.browser_cpu_s = process_cpu_s([os.getpid()], exclude=pids) - cpu0[1]
                if sampler:
                    sampler.__exit__(None, None, None)
                    res.rss_start_mb, res.rss_peak_mb = sampler.start, sampler.peak
            replicas_after, after = await read_all(ctxs, url)
            res.weights = compare_weights(before, after)
            res.weights["replicas"] = replicas if replicas == replicas_after else [replicas, replicas_after]
        finally:
            await browser.close()
    return res


def report(results: list[PointResult], args, plan: list[Step], load_start, load_end) -> str:
    best = capacity(results, args.target_p50, args.target_p95)
    labels = {s.path: s.label for s in plan}
    failures = [f for r in results for f in (r.warmup_failures + r.failures)]
    where = (f"{args.label or 'an existing server'} at `{args.url}`" if args.url else
             "one server started by the script as `make run` starts it (scripts/app_server.py, via bench/pages.py)")
    changed = [c for r in results for c in r.weights.get("changed", [])]
    body = (
        f"{where}; one headless Debian Chromium (Playwright async API) with one browser context per session, all "
        f"sessions running at once. Each session visits every page, starting at a different one, and does its main "
        f"action {args.rounds} time(s) per page with a new input each time, back to back"
        + (f" with {args.think:g} s of think time" if args.think else ", no think time (a worst case)")
        + ". Before the timed run one untimed session visits every page once, so every default model is loaded. "
        "Latency of an action: click / key press to the rerun finished and the result visible; the memory lab's "
        "action is opening it (its other action is training, left out). Errors: exception elements, `st.error` "
        f"boxes, JavaScript errors and timeouts ({args.timeout:g} s a step). Memory: VmRSS of the server process and "
        "its children, sampled every 0.5 s during the run. CPU per step: CPU seconds (user + system, /proc) the "
        "server's processes and, separately, the browser (Playwright's driver and Chromium) used during the run, "
        "divided by the steps done (page opens plus actions), and per second of the run (cores busy). "
        "Weights: SHA-256 of every model held in the pages' "
        "`st.cache_resource` caches (the home page's *Loaded models* table) before and after; every model held at "
        "both times must be identical.\n\n"
        + markdown_table(sweep_rows(results, args.target_p50, args.target_p95), ".2f")
        + "\n\n"
        + (f"**Sessions per replica: {best}** of the counts tried"
           if best else "**No session count tried met the criterion**")
        + f" (criterion: 0 errors, unchanged weights, main-action p50 over all pages under {args.target_p50:g} s"
        + (f" and p95 under {args.target_p95:g} s" if args.target_p95 is not None else "")
        + ").\n\n"
        + "### Main action latency per page\n\n"
        + markdown_table(page_rows(results, labels))
        + "\n\n"
        + (("**Errors:** " + "; ".join(f"session {f.session} {f.page}: {f.what}" for f in failures[:10])
            + (f" (and {len(failures) - 10} more)" if len(failures) > 10 else "") + "\n\n") if failures else "")
        + (("**Weights changed:** " + "; ".join(changed) + "\n\n") if changed else "")
        + f"Load average (1/5/15 min) at the start {load_start[0]:.2f} / {load_start[1]:.2f} / {load_start[2]:.2f}, "
        f"at the end {load_end[0]:.2f} / {load_end[1]:.2f} / {load_end[2]:.2f}. This is a **2-core CPU shared with "
        "other jobs**, and the browser sessions run on the same two cores as the server: Chromium drawing N pages of "
        "plotly competes with the server for CPU, so these figures are a pessimistic bound for a replica whose "
        "users' browsers run on their own machines, and they are noisy."
    )
    return body


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", default="10",
                    help="concurrent sessions; a comma list sweeps (1,5,10,20) or repeats a count (10,10,10)")
    ap.add_argument("--rounds", type=int, default=1, help="visits of every page per session")
    ap.add_argument("--think", type=float, default=0.0, help="seconds a session waits between steps")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds one step may take before it is an error")
    ap.add_argument("--target-p50", type=float, default=TARGET_P50_S, help="main-action p50 target, seconds")
    ap.add_argument("--target-p95", type=float, help="main-action p95 target, seconds (default: not judged)")
    ap.add_argument("--url", help="an existing server (e.g. make serve's nginx); default: start one")
    ap.add_argument("--label", help="with --url: what serves it, for the report (e.g. 'make serve REPLICAS=2')")
    ap.add_argument("--pid", type=int, action="append", default=[],
                    help="with --url: a server process whose tree's memory to sample (repeatable)")
    ap.add_argument("--pages", help="comma list of page paths to use (default: all six)")
    ap.add_argument("--section", default="load", help="BENCHMARKS.md section to write")
    ap.add_argument("--no-write", action="store_true", help="print the table, leave BENCHMARKS.md alone")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sessions.split(",") if x.strip()]
    if not sizes or min(sizes) < 1:
        sys.exit("--sessions takes positive counts, e.g. 10 or 1,5,10,20")
    plan = browser_plan(args.pages, "bench/load.py")

    load_start = os.getloadavg()
    results = []
    for n in sizes:
        # a fresh server per count: the peak memory and the weight check then belong to this count alone
        server = None if args.url else Server(tempfile.mkdtemp(prefix="bench-load-home-"))
        try:
            url = args.url or server.url
            pids = args.pid if args.url else [server.proc.pid]
            res = asyncio.run(run_point(url, n, plan, args, pids))
        finally:
            if server:
                server.stop()
        results.append(res)
        act = latency_summary(res.samples).get("all", {})
        print(f"{n} sessions: {act.get('runs', 0)} actions, p50 {act.get('p50', float('nan')):.2f} s, "
              f"p95 {act.get('p95', float('nan')):.2f} s, errors {len(res.failures) + len(res.warmup_failures)}, "
              f"peak RSS {res.rss_peak_mb}, weights {res.weights}", file=sys.stderr, flush=True)
    body = report(results, args, plan, load_start, os.getloadavg())
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=1))
    if not args.no_write:
        title = ("Many users: concurrent browser sessions on one server" if not args.url else
                 f"Many users: concurrent browser sessions through {args.label or args.url}")
        write_section(args.section, title, body)
    print(body)
    if any(r.failures or r.warmup_failures or r.weights.get("changed") for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
