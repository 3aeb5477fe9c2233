"""End-to-end: the attention explorer's step-through in a real Chromium against `streamlit run`."""

import pytest

from seqcore.tasks.attention import DEFAULT_NAME
from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e

STEM = f"{DEFAULT_NAME}-L0-H0"


def test_step_through_in_chromium(server_url, page):
    goto(page, f"{server_url}/attention")
    page.get_by_role("heading", name="Attention explorer").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("not an explanation").count() >= 1

    box = page.locator(".st-key-att-text input")
    text = "我是mika, the film is good"
    box.fill(text)
    box.press("Enter")
    page.get_by_text(f"{len(text)} characters, one token each").wait_for()
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0

    softmax = page.locator(f".st-key-att-fig-{STEM}-weights")
    softmax.scroll_into_view_if_needed()
    softmax.locator(".main-svg").first.wait_for()
    # Plotly drew the heat map locally: the y axis carries the typed characters, including the Chinese.
    ticks = softmax.locator(".ytick text").evaluate_all("els => els.map(e => e.textContent)")
    assert "1:我" in ticks and "3:m" in ticks, ticks
    softmax.screenshot(path=str(ARTIFACTS / "attention-step-softmax.png"))
    page.locator(f".st-key-att-fig-{STEM}-Q").screenshot(path=str(ARTIFACTS / "attention-step-q.png"))

    page.get_by_role("tab", name="Head view").click()
    head_view = page.locator(".st-key-att-fig-headview")
    head_view.locator(".main-svg").first.wait_for()
    head_view.screenshot(path=str(ARTIFACTS / "attention-head-view.png"))

    page.get_by_role("tab", name="Model view").click()
    grid = page.locator(".st-key-att-fig-modelview")
    grid.locator(".main-svg").first.wait_for()
    grid.screenshot(path=str(ARTIFACTS / "attention-model-view.png"))

    # Nothing was fetched from outside the server (no CDN).
    hosts = page.evaluate("performance.getEntriesByType('resource').map(e => new URL(e.name).host)")
    assert all(h.startswith("127.0.0.1") for h in hosts), set(hosts)
