"""Shared fixtures: a private checkpoint dir, AppTest factory, a live streamlit server, Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"

# User-trained checkpoints from tests go to a throwaway dir, never the developer's cache.
os.environ.setdefault("SEQCORE_HOME", tempfile.mkdtemp(prefix="seqcore-test-home-"))

# Files that take minutes (browser journeys over every page, soak and load smokes, a real proxy, torchrun). With
# `--dist loadfile` each file runs whole on one worker in collection order, so in alphabetical order a long file
# picked up near the end (test_links, test_load_bench, test_soak_bench...) ran alone while the other worker idled.
# Collected first, the two workers start on them and the many short files fill in at the end.
LONG_FILES = ("test_hostile_e2e.py", "test_links.py", "test_soak_bench.py", "test_load_bench.py", "test_bad_inputs.py",
              "test_faults.py", "test_e2e_proxy.py", "test_hostile_bench.py", "test_kept_models_e2e.py",
              "test_broken_checkpoints.py", "test_music_e2e.py", "test_attention_e2e.py", "test_torchrun_cli.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(LONG_FILES)))  # stable: the rest keep their order


def _route_apptest_through_app_py() -> None:
    """AppTest clears Streamlit's legacy-pages flag before every run, so a switched-to page would run bare,
    without app.py (see scripts/app_server.use_st_navigation_only); set it again after each PagesManager is
    made, so AppTest runs pages the way the server does."""
    from streamlit.runtime.pages_manager import PagesManager

    from scripts.app_server import use_st_navigation_only

    init = PagesManager.__init__
    if getattr(init, "_seqcore_v2", False):
        return

    def init_v2(self, *args, **kwargs):
        init(self, *args, **kwargs)
        use_st_navigation_only()

    init_v2._seqcore_v2 = True
    PagesManager.__init__ = init_v2


def make_app(timeout: float = 120):
    """AppTest of the whole app (router included), with a timeout that covers importing torch."""
    from streamlit.testing.v1 import AppTest

    _route_apptest_through_app_py()
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A private SEQCORE_HOME (user checkpoints, the live-data cache) for one test."""
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """A private copy of the shipped checkpoints (and an empty user dir) that a test may break.

    Models cached by st.cache_resource are shared by the whole process, so the caches are cleared
    before (the broken copy must be read) and after (later tests must see the real files again).
    """
    import streamlit as st

    from seqcore.checkpoints import shipped_dir

    copy = tmp_path / "shipped"
    shutil.copytree(shipped_dir(), copy)
    monkeypatch.setenv("SEQCORE_SHIPPED_DIR", str(copy))
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path / "home"))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield copy
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def app():
    return make_app()


def open_page(page: str, at=None):
    """AppTest started from app.py and switched to pages/PAGE.py, checked to render without exception."""
    at = at if at is not None else make_app()
    at.run()
    at.switch_page(page if page.startswith("pages/") else f"pages/{page}.py").run()
    assert not at.exception, at.exception
    return at


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Poll URL/_stcore/health until it answers 200; False if `proc` exits or `timeout` s pass first."""
    deadline = time.time() + timeout
    while proc.poll() is None and time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.5)
    return False


@contextlib.contextmanager
def app_server(log_name: str = "streamlit-server.log"):
    """The app served as `make run` serves it (scripts/app_server.py) on a free loopback port; yields its URL
    once /_stcore/health answers 200."""
    port = _free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # make test runs two pytest-xdist workers: one log each
    if worker:
        log_name = f"{Path(log_name).stem}-{worker}{Path(log_name).suffix}"
    with open(ARTIFACTS / log_name, "w") as log:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "scripts" / "app_server.py"), "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            if not wait_healthy(url, proc, 120):
                pytest.fail(f"streamlit did not become healthy; see {ARTIFACTS / log_name}")
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="session")
def server_url():
    with app_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        msg = f"end-to-end tests need {CHROMIUM} (make test installs Debian's chromium as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"],
        )
        yield b
        b.close()


# Runs in the top frame before Streamlit's own code: notes the time of the last user input and of the last
# time the script started running, so wait_idle can tell "idle after my action" from "idle, action not yet
# sent". Without it, a check right after a click could read the page before the rerun it causes began.
TRACK_RUNS_JS = """(() => {
  if (window.top !== window) return;
  const s = window.__seqRuns = {input: 0, runStart: 0};
  const mark = () => { s.input = performance.now(); };
  for (const t of ['click', 'keydown', 'change', 'input']) document.addEventListener(t, mark, true);
  const watch = () => {
    const app = document.querySelector("[data-testid='stApp']");
    if (!app) return setTimeout(watch, 30);
    new MutationObserver((recs) => {
      const cur = app.getAttribute('data-test-script-state');
      if (cur === 'running' || recs.some((r) => r.oldValue === 'running')) s.runStart = performance.now();
    }).observe(app, {attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state']});
  };
  watch();
})();"""

IDLE_AFTER_INPUT_JS = """(grace) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const s = window.__seqRuns;
  return !s || s.runStart >= s.input || performance.now() - s.input > grace;
}"""


def new_context(browser, **kw):
    """A browser context whose pages track script runs for wait_idle."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, **kw)
    context.add_init_script(TRACK_RUNS_JS)
    return context


@pytest.fixture
def page(browser):
    context = new_context(browser)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def wait_idle(page, timeout: float = 120_000, grace_ms: float = 1500) -> None:
    """Wait until Streamlit has finished the rerun caused by the last user input.

    An input that causes no rerun (a hover, typing before Enter) returns after `grace_ms` of quiet; on a
    page opened without new_context() this falls back to waiting for the idle state alone.
    """
    page.wait_for_function(IDLE_AFTER_INPUT_JS, arg=grace_ms, timeout=timeout, polling=50)


def goto(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("[data-testid='stApp']")
    wait_idle(page)
