"""End-to-end: a sentiment prediction in a real Chromium against `streamlit run`."""

import pytest

from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e


def test_prediction_in_chromium(server_url, page):
    goto(page, f"{server_url}/sentiment")
    page.get_by_role("heading", name="Sentiment").first.wait_for()
    assert page.locator("[data-testid='stException']").count() == 0

    box = page.locator(".st-key-sentiment-text-0 textarea")
    box.fill("An absolutely wonderful, moving film with a superb cast.")
    box.press("Control+Enter")
    wait_idle(page)
    # Charts of the previous run can linger, marked stale, while the new run draws: read the fresh ones.
    result = page.locator(".st-key-sentiment-result")
    result.locator("[data-testid='stDataFrame']").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    result.scroll_into_view_if_needed()
    result.screenshot(path=str(ARTIFACTS / "sentiment-prediction.png"))
    chart = page.locator(".st-key-sentiment-running[data-stale='false']")
    chart.locator(".main-svg").first.wait_for()
    chart.screenshot(path=str(ARTIFACTS / "sentiment-running.png"))
    heat = page.locator(".st-key-sentiment-heatmap[data-stale='false']")
    heat.locator(".main-svg").first.wait_for()
    heat.screenshot(path=str(ARTIFACTS / "sentiment-heatmap.png"))
