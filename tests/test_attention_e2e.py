"""End-to-end: the attention explorer in a real Chromium against `streamlit run`: the step-through, the head
view's own HTML/JS (hover and head toggles inside its iframe) and a click on the model view's grid."""

from pathlib import Path

import pytest

from seqcore.tasks.attention import DEFAULT_NAME
from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e

STEM = f"{DEFAULT_NAME}-L0-H0"
SHOWN = "els => els.filter(e => e.style.display !== 'none')"


def type_text(page, text: str) -> None:
    box = page.locator(".st-key-attention-text input")
    box.fill(text)
    box.press("Enter")
    page.get_by_text(f"{len(text)} characters, one token each").wait_for()
    wait_idle(page)


def test_explorer_in_chromium(server_url, page):
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    goto(page, f"{server_url}/attention")
    page.get_by_role("heading", name="Attention explorer").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("not an explanation").count() >= 1

    text = "我是mika, the film is good"
    type_text(page, text)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0

    softmax = page.locator(f".st-key-attention-fig-{STEM}-weights[data-stale='false']")
    softmax.scroll_into_view_if_needed()
    softmax.locator(".main-svg").first.wait_for()
    # Plotly drew the heat map locally: the y axis carries the typed characters, including the Chinese.
    ticks = softmax.locator(".ytick text").evaluate_all("els => els.map(e => e.textContent)")
    assert "1:我" in ticks and "3:m" in ticks, ticks
    softmax.screenshot(path=str(ARTIFACTS / "attention-step-softmax.png"))
    with page.expect_download() as got:  # the CSV is written only on this click (a callable)
        page.locator(f".st-key-attention-csv-{STEM}-weights-softmax button").click()
    csv = Path(got.value.path()).read_text(encoding="utf-8").splitlines()
    assert csv[0].startswith(",0:<bos>,1:我") and len(csv) == len(text) + 2, csv[:2]
    page.locator(f".st-key-attention-fig-{STEM}-QKV").screenshot(path=str(ARTIFACTS / "attention-step-qkv.png"))

    # Head view: hovering a token leaves only its lines; unticking a head hides that head's lines.
    page.get_by_role("tab", name="Head view").click()
    wait_idle(page)
    view = page.frame_locator(".st-key-attention-headview iframe")
    lines = view.locator("line.ln")
    lines.first.wait_for(state="attached")
    total = lines.count()
    assert total > len(text) and lines.evaluate_all(SHOWN + ".length") == total
    view.locator("text.tok.q[data-idx='3']").hover()  # "3:m" as a query
    rows = lines.evaluate_all(SHOWN + ".map(e => e.dataset.i)")
    assert rows and set(rows) == {"3"} and len(rows) < total
    page.locator(".st-key-attention-headview").screenshot(path=str(ARTIFACTS / "attention-head-view-hover.png"))
    view.locator("text.tok.k[data-idx='0']").hover()  # "<bos>" as a key: every line into it, from any query
    assert set(lines.evaluate_all(SHOWN + ".map(e => e.dataset.j)")) == {"0"}
    view.locator("#title").hover()
    assert lines.evaluate_all(SHOWN + ".length") == total
    view.locator("input[data-head='0']").uncheck()
    heads = lines.evaluate_all(SHOWN + ".map(e => e.dataset.h)")
    assert heads and "0" not in heads and len(heads) < total

    # Typed markup reaches the view as text, never as a script.
    evil = "</script><script>alert(1)</script>"
    type_text(page, evil)
    view = page.frame_locator(".st-key-attention-headview iframe")
    view.locator("text.tok.q", has_text="1:<").wait_for()
    tokens = view.locator("text.tok.q").evaluate_all("els => els.map(e => e.textContent)")
    assert "".join(t.split(":", 1)[1] for t in tokens[1:]) == evil, tokens
    assert not dialogs, dialogs

    # Model view: a click on the map of layer 1, head 2 enlarges it.
    type_text(page, text)
    page.get_by_role("tab", name="Model view").click()
    wait_idle(page)
    grid = page.locator(".st-key-attention-fig-modelview[data-stale='false']")
    grid.locator(".main-svg").first.wait_for()
    page.locator(f".st-key-attention-fig-{DEFAULT_NAME}-L0-H0-grid").wait_for()
    grid.screenshot(path=str(ARTIFACTS / "attention-model-view.png"))
    cell = grid.locator("g.draglayer g.x7y7 rect.nsewdrag").first  # maps are numbered row by row from 1
    box = cell.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
    page.mouse.click(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
    enlarged = page.locator(f".st-key-attention-fig-{DEFAULT_NAME}-L1-H2-grid[data-stale='false']")
    enlarged.locator(".gtitle").filter(has_text="layer 1, head 2").wait_for()
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0

    # Nothing the page loads comes from outside the server (no CDN), the favicon included (app.py ships it).
    urls = page.evaluate("performance.getEntriesByType('resource').map(e => e.name)")
    outside = [u for u in urls if not u.startswith(server_url)]
    assert not outside, outside
