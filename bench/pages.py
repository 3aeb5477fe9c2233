"""Page latency in a real browser (Playwright + Debian's Chromium) against the app as `make run` serves it
(scripts/app_server.py), and the server's resident memory.

- Cold first render: a fresh server per (page, repeat); the clock starts at navigation and stops when the page's
  main element is visible and the script state is notRunning. This includes loading the page's default
  models in the server (what the first visitor after a restart sees); torch is imported before the health check.
- Warm first render: the same, in a new browser session on a server that has already served every page.
- Main action on a warm server: from the click / key press to the rerun finishing and the result element being
  visible (training excluded). Each repeat changes the input, so no cached answer is reused.
- Memory: VmRSS of the streamlit process and its children (/proc) after a cold start, after every page has run
  once (every default model loaded), and per extra browser session (K sessions that each visit every page).

Targets on CPU (issue 9): first render < 5 s, main action < 1 s.

Run: python bench/pages.py [--quick] [--repeats 5] [--cold-repeats 3] [--sessions 3]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._frames import Frames, frames_of  # noqa: E402
from bench._report import markdown_table, write_section  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
FIRST_RENDER_TARGET_S = 5.0
ACTION_TARGET_S = 1.0


def _attention_stem() -> str:
    from seqcore.tasks.attention import DEFAULT_NAME

    return f"{DEFAULT_NAME}-L0-H0"


# page path -> (label, selector of the element that means "the page has rendered its main content")
def pages() -> list[tuple[str, str, str]]:
    return [
        ("", "home", "h1:has-text('Sequence Studio')"),
        ("forecast", "forecast", ".st-key-forecast-chart .main-svg"),
        ("music", "music", ".st-key-music-generate button"),
        ("sentiment", "sentiment", ".st-key-sentiment-result [data-testid='stDataFrame']"),
        ("captioning", "captioning", ".st-key-captioning-overlay-lstm img"),
        ("translation", "translation", ".st-key-translation-alignment .main-svg"),
        ("attention", "attention", f".st-key-attention-fig-{_attention_stem()}-weights .main-svg"),
        ("memory_lab", "memory lab", ".st-key-memory-lab-accuracy .main-svg"),
    ]


# ---- server ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, home: str):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w", prefix="bench-streamlit-", suffix=".log", delete=False)  # noqa: SIM115
        env = {**os.environ, "SEQCORE_HOME": home}
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "app_server.py"), "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                raise RuntimeError(f"streamlit did not become healthy; see {self.log.name}")
            time.sleep(0.2)
        self.start_s = time.perf_counter() - t0

    def rss_mb(self) -> float:
        """VmRSS of the server process and all its descendants, in MiB."""
        children: dict[int, list[int]] = {}
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    stat = Path(f"/proc/{d}/stat").read_text()
                    ppid = int(stat.rsplit(")", 1)[1].split()[1])
                    children.setdefault(ppid, []).append(int(d))
                except (OSError, ValueError, IndexError):
                    continue
        total, todo = 0, [self.proc.pid]
        while todo:
            pid = todo.pop()
            todo += children.get(pid, [])
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
        return total / 1024

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# ---- browser -----------------------------------------------------------------------------

def new_page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(180_000)
    Frames(pg)  # before the first navigation opens the websocket
    return ctx, pg


def finished(pg, t0: float, timeout_s: float = 180) -> None:
    """Wait for the rerun the page requested at or after t0 to finish (the server's script_finished), then for
    the frontend to be idle again (see bench/_frames.py: the script-state attribute alone can miss a rerun)."""
    frames = frames_of(pg)
    while not frames.finished_since(t0):
        if time.perf_counter() - t0 > timeout_s:
            raise TimeoutError(f"no finished rerun within {timeout_s:g} s" + frames.since(t0))
        pg.wait_for_timeout(10)  # lets Playwright deliver the frame events
    pg.wait_for_selector(IDLE)


def first_render(browser, url: str, path: str, selector: str) -> float:
    ctx, pg = new_page(browser)
    try:
        t0 = time.perf_counter()
        pg.goto(f"{url}/{path}")
        finished(pg, t0)
        pg.locator(selector).first.wait_for(state="visible")
        return time.perf_counter() - t0
    finally:
        ctx.close()


def timed_action(pg, act: Callable[[], None], result: str) -> float:
    """Seconds from act() (a click or key press) to the rerun it caused finishing and `result` being visible."""
    pg.wait_for_selector(IDLE)
    t0 = time.perf_counter()
    act()
    finished(pg, t0)
    pg.locator(result).first.wait_for(state="visible")
    return time.perf_counter() - t0


# One entry per main action: (label, page path, setup(pg), run(pg, i) -> seconds)
def actions(stem: str) -> list[tuple[str, str, Callable]]:
    def forecast_whatif(pg, i):
        slider = pg.locator(".st-key-forecast-shock input[type='range']")
        slider.focus()
        return timed_action(pg, lambda: pg.keyboard.press("ArrowRight"), ".st-key-forecast-whatif-chart .main-svg")

    def forecast_horizon(pg, i):
        slider = pg.locator(".st-key-forecast-horizon input[type='range']")
        slider.focus()
        key = "ArrowLeft" if i % 2 == 0 else "ArrowRight"
        return timed_action(pg, lambda: pg.keyboard.press(key), ".st-key-forecast-chart .main-svg")

    def music_generate(pg, i):
        box = pg.locator(".st-key-music-seed input")
        box.fill(str(100 + i))
        button = pg.locator(".st-key-music-generate button")
        timed_action(pg, lambda: box.press("Enter"), ".st-key-music-generate button")  # the new seed's rerun
        return timed_action(pg, button.click, "[data-testid='stAudio']")

    def sentiment_predict(pg, i):
        box = pg.locator(".st-key-sentiment-text-0 textarea")
        box.fill(f"Review {i}: a moving film with a superb cast, though the ending dragged a little.")
        return timed_action(pg, lambda: box.press("Control+Enter"),
                            ".st-key-sentiment-result [data-testid='stDataFrame']")

    def caption_new(pg, i):
        button = pg.locator(".st-key-captioning-new button")
        return timed_action(pg, button.click, ".st-key-captioning-overlay-lstm img")

    def translation_text(pg, i):
        box = pg.locator(".st-key-translation-text-0 textarea")
        box.fill(f"我有{i + 2}个朋友。")
        return timed_action(pg, lambda: box.press("Control+Enter"), ".st-key-translation-alignment .main-svg")

    def attention_text(pg, i):
        box = pg.locator(".st-key-attention-text input")
        box.fill(f"the cat sat on mat {i}")
        return timed_action(pg, lambda: box.press("Enter"), f".st-key-attention-fig-{stem}-weights .main-svg")

    return [
        ("forecast: what-if shock +1% (re-forecast, same weights)", "forecast", forecast_whatif),
        ("forecast: horizon +-1 (forecast + backtest redrawn)", "forecast", forecast_horizon),
        ("music: generate (500 chars, LSTM, new seed)", "music", music_generate),
        ("sentiment: predict a new review (Ctrl+Enter)", "sentiment", sentiment_predict),
        ("captioning: new scene -> captions", "captioning", caption_new),
        ("translation: new sentence -> both models (beam 4) + alignment", "translation", translation_text),
        ("attention: new input text -> step-through", "attention", attention_text),
    ]


def server_side_times(page_list, repeats: int) -> list[dict]:
    """The same page scripts without a browser (AppTest, in this process): first run and warm rerun seconds."""
    from streamlit.testing.v1 import AppTest

    # Run as `python bench/pages.py`, bench/ is on sys.path and this file would shadow the app's `pages/`
    # folder (a namespace package) in the page scripts' `from pages._x import ...`: take bench/ off first.
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != here]
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    out = []
    for path, label, _ in page_list:
        t0 = time.perf_counter()
        at.switch_page(f"pages/{path}.py" if path else "app.py").run()
        first = time.perf_counter() - t0
        reruns = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            at.run()
            reruns.append(time.perf_counter() - t0)
        out.append({"page": label, "first run s (this process)": round(first, 3),
                    "warm rerun s (median)": round(statistics.median(reruns), 3),
                    "exceptions": len(at.exception)})
        if at.exception:
            raise RuntimeError(f"{label}: {at.exception[0].message}")
    return out


def median_row(label: str, kind: str, times: list[float], target: float | None) -> dict:
    """One table row; target None for a figure the issue sets no target for (it then counts as a hit)."""
    med = statistics.median(times)
    return {"page / action": label, "measure": kind, "runs": len(times), "median s": round(med, 3),
            "min s": round(min(times), 3), "max s": round(max(times), 3),
            "target s": "-" if target is None else f"< {target:g}",
            "hit": "-" if target is None else ("hit" if med < target else "**MISS**")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="one run of everything, one extra session (smoke)")
    ap.add_argument("--repeats", type=int, default=5, help="runs per warm measurement")
    ap.add_argument("--cold-repeats", type=int, default=2, help="fresh servers per page for the cold first render")
    ap.add_argument("--sessions", type=int, default=3, help="extra browser sessions for the memory delta")
    ap.add_argument("--skip-cold", action="store_true", help="leave out the fresh-server first renders")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.cold_repeats, args.sessions = 1, 1, 1
    if not os.path.exists(CHROMIUM):
        sys.exit(f"bench/pages.py needs {CHROMIUM} (make browser installs it)")
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="bench-pages-home-")
    page_list = pages()
    stem = _attention_stem()
    rows, mem = [], []
    load_start = os.getloadavg()
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--use-fake-device-for-media-stream",
                  "--use-fake-ui-for-media-stream"])
        try:
            # 1. cold first render: a fresh server for every (page, repeat)
            starts = []
            for path, label, selector in [] if args.skip_cold else page_list:
                times = []
                for _ in range(args.cold_repeats):
                    server = Server(home)
                    starts.append(server.start_s)
                    try:
                        times.append(first_render(browser, server.url, path, selector))
                    finally:
                        server.stop()
                print(f"cold {label}: {times}", file=sys.stderr, flush=True)
                rows.append(median_row(label, "first render, fresh server", times, FIRST_RENDER_TARGET_S))
            if starts:
                rows.insert(0, median_row("server", "start to /_stcore/health (imports seqcore first)", starts, None))

            # 2. one warm server: memory, warm first render, main actions, extra sessions
            server = Server(home)
            try:
                time.sleep(1)
                mem.append({"state": "server started (seqcore and torch imported), no session yet",
                            "RSS MiB": round(server.rss_mb())})
                first_render(browser, server.url, "", page_list[0][2])
                mem.append({"state": "after the home page", "RSS MiB": round(server.rss_mb())})
                for path, _label, selector in page_list[1:]:
                    first_render(browser, server.url, path, selector)
                time.sleep(1)
                loaded = server.rss_mb()
                mem.append({"state": "after every page ran once (every default model loaded)",
                            "RSS MiB": round(loaded)})

                for path, label, selector in page_list:
                    times = [first_render(browser, server.url, path, selector) for _ in range(args.repeats)]
                    print(f"warm {label}: {times}", file=sys.stderr, flush=True)
                    rows.append(median_row(label, "first render, warm server, new session", times,
                                           FIRST_RENDER_TARGET_S))

                for label, path, run in actions(stem):
                    ctx, pg = new_page(browser)
                    try:
                        pg.goto(f"{server.url}/{path}")
                        pg.locator(dict((q, s) for q, _, s in page_list)[path]).first.wait_for(state="visible")
                        pg.wait_for_selector(IDLE)
                        run(pg, -1)  # one untimed warm-up: the first action may build per-session state
                        times = [run(pg, i) for i in range(args.repeats)]
                    finally:
                        ctx.close()
                    print(f"action {label}: {times}", file=sys.stderr, flush=True)
                    rows.append(median_row(label, "main action, warm server", times, ACTION_TARGET_S))

                time.sleep(1)
                before = server.rss_mb()
                contexts = []
                for _ in range(args.sessions):
                    ctx, pg = new_page(browser)
                    contexts.append(ctx)
                    for path, _label, selector in page_list:
                        pg.goto(f"{server.url}/{path}")
                        pg.locator(selector).first.wait_for(state="visible")
                        pg.wait_for_selector(IDLE)
                time.sleep(2)
                after = server.rss_mb()
                mem.append({"state": f"before opening {args.sessions} more sessions", "RSS MiB": round(before)})
                mem.append({"state": f"with {args.sessions} more sessions open (each visited every page)",
                            "RSS MiB": round(after)})
                mem.append({"state": "per extra session (delta / K)",
                            "RSS MiB": round((after - before) / args.sessions, 1)})
                for ctx in contexts:
                    ctx.close()
            finally:
                server.stop()
        finally:
            browser.close()

    os.environ["SEQCORE_HOME"] = home
    server_rows = server_side_times(page_list, args.repeats)
    load = os.getloadavg()
    misses = [r for r in rows if r["hit"] == "**MISS**"]
    body = (
        "`python scripts/app_server.py` (as `make run` and `make serve` start it: `streamlit run app.py` after "
        "importing seqcore's task and data modules, so torch is loaded before the server answers its health "
        "check) on a free loopback port, driven by Playwright with Debian's `/usr/bin/chromium` "
        "(headless, the flags of tests/conftest.py), viewport 1400x1000. A page has rendered, and an action is "
        "done, when the server has sent `script_finished` for the rerun the page requested (read from the "
        "websocket with Streamlit's protobufs), the app is idle (`data-test-script-state` = `notRunning`) and the "
        "page's main (result) element is visible. "
        f"'fresh server' = a new server per run, so the page's model loading and Streamlit's first-session work "
        "count (the start-up row times the server from launch to a healthy /_stcore/health); "
        f"warm rows are medians of {args.repeats} runs, each in a new browser session (first render) or with a "
        "new input (actions: new shock, horizon, seed, text or scene), after one untimed warm-up.\n\n"
        "Main elements: home `h1 Sequence Studio`; forecast `.st-key-forecast-chart` plot; music the Generate button "
        "(no tune until asked); sentiment `.st-key-sentiment-result` table; "
        "captioning `.st-key-captioning-overlay-lstm` "
        "image; attention the layer-0 head-0 weights plot; memory lab `.st-key-memory-lab-accuracy` plot.\n\n"
        + markdown_table(rows)
        + "\n\n"
        + (f"**Targets missed: {len(misses)} of {len(rows)} rows** — "
           + "; ".join(f"{r['page / action']} ({r['measure']}): {r['median s']:.2f} s" for r in misses)
           + "." if misses else f"**All {len(rows)} rows hit their targets.**")
        + "\n\n### Where the time goes: the page scripts without a browser\n\n"
        "The same scripts run by Streamlit's AppTest in the benchmark process (no browser, no websocket, no "
        "plotly.js; 'first run' is this process's first visit, after the browser phase above, so its models are "
        "loaded once here too):\n\n"
        + markdown_table(server_rows)
        + "\n\nWhen a browser row is far above the script's own time, the rest is the frontend: Streamlit's "
        "JavaScript app starting in a new session (the home page alone), then headless Chromium (software "
        "rendering, `--disable-gpu`) laying out the page and drawing every plotly figure, on the same 2 busy "
        "cores as the server. A fresh-server row adds loading the page's checkpoints (torch is imported at "
        "start-up). "
        "Pages that draw several plotly figures in one run (attention: the step-through's four charts and the "
        "head view's frame; memory lab: five charts; forecast: three) are the slowest to appear."
        + "\n\n### Server memory (VmRSS of the streamlit process and its children)\n\n"
        + markdown_table(mem)
        + f"\n\nLoad average (1/5/15 min) at the start {load_start[0]:.2f} / {load_start[1]:.2f} / "
        f"{load_start[2]:.2f}, at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}, on {os.cpu_count()} "
        "cores shared with other jobs (Chromium, the server and other work all compete): timings are noisy."
    )
    write_section("pages", "Page latency in a real browser, and server memory", body)
    print(body)


if __name__ == "__main__":
    main()
