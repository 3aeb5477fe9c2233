"""Hostile input typed and uploaded through a real Chromium, on every text box and upload (issue 18, item 3).

The catalogue is data (tests/hostile_inputs.py). One test per page: the page is opened once and each of its
targets gets every case in turn. After every rerun the page must show no exception element, raise no uncaught
JavaScript error, run no injected script (window.__pwned stays unset, in every frame) and render no injected
markup. A refused case must get a message with the catalogue's words and is then followed by the target's normal
input, which must give the normal result again; an accepted case must give that result itself. Failures are
collected per (page, target, case) and reported together, so one bad row does not hide the others.

Reruns are awaited on the websocket (bench/_frames.py records it): the server's script_finished for the last rerun
the page asked for, which a starved browser reports even when it never draws the app's "running" state.
"""

from __future__ import annotations

import contextlib
import time

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from bench._frames import Frames, frames_of
from seqcore.data import live
from tests.conftest import goto
from tests.hostile_inputs import LIVE_TICKER, TARGETS, WIDGET, Target, price_csv

pytestmark = pytest.mark.e2e

# Elements that exist only if injected text was rendered as markup: (selector, marker in their text).
MARKUP_JS = """() => {
  const rules = [["strong,b", "INJ-BOLD"], ["b", "INJ-TAG"], ["a", "INJ-LINK"], ["a", "INJ-A"],
                 ["strong,b", "INJ-NAME"], ["h1", "INJ-HEAD"], [".katex", "INJ"], ["th", "INJ"]];
  const found = [];
  for (const [sel, mark] of rules)
    for (const e of document.querySelectorAll(sel))
      if (e.textContent.includes(mark)) found.push(`${e.tagName.toLowerCase()}: ${e.textContent.slice(0, 40)}`);
  for (const e of document.querySelectorAll("script")) if (e.textContent.includes("__pwned")) found.push("script");
  for (const e of document.querySelectorAll("img[src='x']")) found.push("img src=x");
  for (const t of document.querySelectorAll("svg tspan"))  // plotly draws <b> in labels as bold tspans
    if (/bold/.test(t.getAttribute("style") || "") && t.textContent.includes("INJ")) found.push("svg bold: INJ");
  return {pwned: window.__pwned === undefined ? null : String(window.__pwned), markup: found};
}"""

ALERTS_JS = """() => [...document.querySelectorAll("[data-testid='stAlert']")].map(a => {
  const c = a.querySelector("[data-testid^='stAlertContent']");
  return [c ? c.dataset.testid.replace("stAlertContent", "").toLowerCase() : "?", a.innerText.trim()];
})"""


class Row:
    """Where one (target, case) is, and what it did wrong, collected for the report."""

    def __init__(self, failures: list[str], errors: list[str], t: Target, case: str) -> None:
        self.failures, self.errors, self.where = failures, errors, f"{t.page} / {t.key} / {case}"

    def fail(self, why: str) -> None:
        self.failures.append(f"{self.where}: {why}")


def box(page, t: Target):
    return page.locator(f".st-key-{t.key}").locator("textarea, input").first


def took(page, t: Target, value: str) -> bool:
    """Whether the box holds `value` as typed (a one-line input holds line breaks as spaces)."""
    field = box(page, t)
    if field.evaluate("e => e.tagName") != "TEXTAREA":
        value = value.replace("\r", "").replace("\n", " ")
    return field.input_value() == value


def messages(page, key: str) -> list[tuple[str, str]]:
    """(kind, text) of every st.error/warning/info/success, and the upload widget's own refusals (kind "widget")."""
    out = [tuple(m) for m in page.evaluate(ALERTS_JS)]
    for chip in page.locator(f".st-key-{key} [data-testid='stFileChip']").all():
        if chip.locator("[data-testid='stFileChipIconError']").count():
            out.append(("widget", chip.inner_text()))
    return out


IDLE_JS = "() => document.querySelector(\"[data-testid='stApp']\")?.getAttribute('data-test-script-state') " \
          "=== 'notRunning'"


def finished(log: list, t0: float) -> bool | None:
    """None while no rerun was asked for since t0; else whether the last one asked for has finished. Read from the
    websocket (bench/_frames.py): a starved browser may never show the app's "running" state for a fast rerun."""
    asked = [t for t, way, kind in log if t >= t0 and way == "out" and kind == "rerun_script"]
    if not asked:
        return None
    return any(t >= asked[-1] and way == "in" and kind.startswith("script_finished(")
               and kind.split("(")[1].rstrip(")") in ("FINISHED_SUCCESSFULLY", "FINISHED_WITH_COMPILE_ERROR")
               for t, way, kind in log)


def settle(page, row: Row, t0: float | None = None, grace_s: float = 1.5, timeout_s: float = 90) -> bool:
    """Wait for the reruns the last input asked for (from t0 on) to finish, then check what every rerun must
    satisfy; False if the page hung. An input that asks for no rerun within grace_s (a text the box kept out, an
    unchanged value) returns then; a finished rerun must stay the last one for 0.3 s (a widget may ask twice)."""
    frames, t0 = frames_of(page), time.perf_counter() if t0 is None else t0
    done_since = None
    while True:
        now, state = time.perf_counter(), finished(frames.log, t0)
        if state is None and now - t0 > grace_s:
            break
        done_since = (done_since or now) if state else None
        if done_since and now - done_since > 0.3:
            break
        if now - t0 > timeout_s:
            row.fail(f"no finished rerun within {timeout_s:.0f} s{frames.since(t0)}")
            return False
        page.wait_for_timeout(50)  # Playwright delivers the websocket frames while it waits
    try:
        page.wait_for_function(IDLE_JS, timeout=timeout_s * 1000, polling=50)  # the last messages drawn
    except PlaywrightTimeout as e:  # the page never drew its rerun
        row.fail(f"no idle page within {timeout_s:.0f} s ({type(e).__name__})")
        return False
    exceptions = page.locator("[data-testid='stException']")
    if n := exceptions.count():
        row.fail(f"{n} exception element(s): {exceptions.first.inner_text()[:300]}")
    while row.errors:
        row.fail(f"uncaught JavaScript error: {row.errors.pop(0)[:200]}")
    for frame in page.frames:  # the attention head view is an iframe that draws the user's text
        try:
            seen = frame.evaluate(MARKUP_JS)
        except Exception:  # noqa: BLE001, S112 - a frame that went away while being read has nothing to check
            continue
        if seen["pwned"] is not None:
            row.fail(f"injected script ran (window.__pwned = {seen['pwned']!r}) in {frame.url[:60]}")
        if seen["markup"]:
            row.fail(f"injected markup rendered: {seen['markup'][:3]}")
    return True


def enter(page, t: Target, value, row: Row) -> bool:
    """Type or upload `value` into the target and submit it the way a user would; False if the page hung.

    A text box with max_chars keeps a longer text out altogether (its value stays as it was): then nothing is
    submitted, as a user's Enter would submit nothing new."""
    if t.kind == "upload":
        return upload(page, t.key, value, row)
    field = box(page, t)
    changed = not took(page, t, value)
    field.fill(value)
    if not took(page, t, value):
        return True
    if t.submit in ("Enter", "Control+Enter"):  # a changed text reruns the page; the same text does not
        return act(page, row, lambda: field.press(t.submit), rerun=changed)
    # Straight to the button, as a user does: leaving the box commits its text, and the click's rerun reads it.
    return act(page, row, lambda: page.locator(f".st-key-{t.submit} button").click(), rerun=True)


def act(page, row: Row, action, rerun: bool | None) -> bool:
    """Do one user action and settle the rerun it asks for: rerun True when it must ask for one (a missing rerun is
    then a failure, however slow the machine), False when it must not, None when it may (a tab, a radio)."""
    t0 = time.perf_counter()
    action()
    return settle(page, row, t0, grace_s={True: 90, False: 1.0, None: 3.0}[rerun])


# The file's chip, once the upload is over: "refused" (the widget's error, e.g. too big) or "taken"; null meanwhile.
UPLOADED_JS = """([key, name]) => {
  const chips = [...document.querySelectorAll(`.st-key-${key} [data-testid='stFileChip']`)]
    .filter(c => c.innerText.includes(name) && !c.querySelector("[data-testid='stFileChipIconSpinner']"));
  if (!chips.length) return null;
  return chips[chips.length - 1].querySelector("[data-testid='stFileChipIconError']") ? "refused" : "taken";
}"""


def upload(page, key: str, file: tuple[str, str, bytes], row: Row) -> bool:
    """Give the widget a file and wait for the rerun that reads it.

    The widget first sends the file (its chip shows a spinner meanwhile, and the app may rerun once before the file
    is there), then asks for the rerun that reads it; a file the widget refuses (too big) gets an error chip and no
    rerun. So: wait for the chip to settle, then for the last rerun asked for since the file was given.
    """
    name, mime, data = file
    t0 = time.perf_counter()
    page.locator(f".st-key-{key} input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])
    try:  # a chip shortens a long name to its start...end
        refused = page.wait_for_function(UPLOADED_JS, arg=[key, name[:5]], timeout=60_000, polling=50).json_value()
    except PlaywrightTimeout as e:
        row.fail(f"the upload of {name[:40]!r} never finished ({type(e).__name__})")
        return False
    # A file the widget took must rerun the page; one it refused must not (grace: a second for a rerun to show up).
    return settle(page, row, t0, grace_s=time.perf_counter() - t0 + 1.0 if refused == "refused" else 90)


def expect_result(page, t: Target, row: Row, what: str) -> None:
    """The target's normal result is on the page, with no st.error beside it."""
    with contextlib.suppress(PlaywrightTimeout):  # reported below, with what the page said
        page.locator(t.works).first.wait_for(state="attached", timeout=5000)  # drawn last, or by a progress fragment
    said = messages(page, t.key)
    if not page.locator(t.works).count():
        row.fail(f"{what}: no {t.works} on the page; it said {[m[:160] for _, m in said][:4]}")
    if errors := [m[:200] for kind, m in said if kind == "error"]:
        row.fail(f"{what}: an error beside the result: {errors[:2]}")


def expect_message(page, t: Target, row: Row, words: tuple[str, ...], value) -> None:
    """A refused case: a message (or the upload widget's own refusal) that holds every word. An st.info counts: an
    empty box may be told what it is for rather than warned."""
    if words == WIDGET:  # the box itself refuses the text (max_chars), so the page never sees it
        if took(page, t, value):
            row.fail("the box took the text, though its max_chars should keep it out")
        return
    said = messages(page, t.key)
    if not any(kind != "success" and all(w.lower() in m.lower() for w in words) for kind, m in said):
        row.fail(f"no message saying {words}; the page said {[m[:160] for _, m in said][:5]}")
    if too_long := [m[:80] for _, m in said if len(m) > 1500]:
        row.fail(f"a message quotes too much of the input: {too_long}")


def after(page, t: Target, row: Row) -> None:
    """What follows a result (a training run it started must end before the next input can start one)."""
    for action, selector in t.then:
        if action == "click":  # a button that may already be gone (a run that ended by itself)
            # rerun=None: a button inside a fragment (a live run's Stop) reruns only its fragment, which the
            # websocket log cannot tell from the fragment's own timer; the "gone" step that follows waits for
            # the full rerun the ended run starts.
            with contextlib.suppress(PlaywrightTimeout):
                act(page, row, lambda s=selector: page.locator(s).locator("button").first.click(timeout=3000),
                    rerun=None)
        else:  # "gone": wait until the selector's element has left the page (a rerun the server started)
            page.locator(selector).first.wait_for(state="detached", timeout=120_000)
            settle(page, row)


def prepare(page, t: Target, row: Row) -> None:
    """The target's setup: the clicks (and uploads) that show its widget."""
    for step in t.setup:
        if isinstance(step, tuple):  # ("upload", key, file)
            upload(page, step[1], step[2], row)
        else:
            tab = "role='tab'" in step  # st.tabs without on_change switch in the browser: no rerun
            act(page, row, lambda s=step: page.locator(s).first.click(), rerun=False if tab else None)


def drive(page, server_url: str, targets: list[Target], log=None) -> list[str]:
    """Every case of every target (of one page); returns the failures, one line per (target, case) problem."""
    failures: list[str] = []
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    Frames(page)  # before the page opens its websocket: settle() reads the reruns from it
    opened = None
    for t in targets:
        if t.page != opened:  # once per page: its targets share the session, as a user's inputs would
            goto(page, f"{server_url}/{t.page}")
            opened = t.page
        prepare(page, t, Row(failures, errors, t, "setup"))
        names = list(t.cases)
        for i, case in enumerate(names):
            row, before = Row(failures, errors, t, case), len(failures)
            value = t.file(case) if t.kind == "upload" else t.cases[case]
            if enter(page, t, value, row):
                if case in t.refuse:
                    expect_message(page, t, row, t.refuse[case], value)
                elif t.kind == "text" and not took(page, t, value):
                    row.fail("the box did not take the text")
                else:
                    if case in t.warn:
                        expect_message(page, t, row, t.warn[case], value)
                    expect_result(page, t, row, "accepted input")
                    after(page, t, row)
            if log:
                log(t.key, case, messages(page, t.key))
            # After a refused (or failed) case the page must work again: the next case shows it when that one is
            # accepted (its normal result); otherwise the normal input follows. Every target ends on a normal input.
            last = i == len(names) - 1
            refused = t.refuse.get(case) not in (None, WIDGET)  # a text the box kept out never reached the page
            refused_next = not last and names[i + 1] in t.refuse
            if last or (t.normal_each and (len(failures) > before or (refused and refused_next))):
                normal(page, server_url, t, row)
    return failures


def normal(page, server_url: str, t: Target, row: Row) -> None:
    """The target's normal input, after a hostile one: it must give the normal result again."""
    if enter(page, t, t.normal, row):
        expect_result(page, t, row, "the next normal input")
        after(page, t, row)
    else:  # a hung page: open it again so the other rows still run
        goto(page, f"{server_url}/{t.page}")
        prepare(page, t, row)


def seed_live_prices() -> None:
    """Prices for LIVE_TICKER in the download cache that the test server reads (it shares SEQCORE_HOME with this
    process, see conftest), so the ticker box's normal Fetch works offline and gives the same series every run."""
    path = live._cache_path(LIVE_TICKER, "5y", "1d")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(price_csv(600).decode().replace("date,price", "Date,Close"))


PAGES = sorted({t.page.split("?")[0] for t in TARGETS})


@pytest.mark.parametrize("name", PAGES)
def test_hostile_input(server_url, page, name):
    seed_live_prices()
    failures = drive(page, server_url, [t for t in TARGETS if t.page.split("?")[0] == name])
    assert not failures, f"{len(failures)} hostile-input problems on {name}:\n" + "\n".join(failures)
