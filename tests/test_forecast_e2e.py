"""End-to-end: the forecasting page in Chromium draws the forecast chart from the shipped models."""

import pytest

from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e


def test_forecast_page_draws_the_chart(server_url, page):
    goto(page, f"{server_url}/forecast")
    page.get_by_role("heading", name="Stock forecasting").wait_for()
    wait_idle(page)
    chart = page.locator(".stPlotlyChart").first
    chart.wait_for()
    chart.locator(".main-svg").first.wait_for()
    assert chart.locator("g.trace").count() >= 4  # history, LSTM, Transformer, naive (+ bands)
    assert page.locator("[data-testid='stException']").count() == 0
    chart.scroll_into_view_if_needed()
    chart.screenshot(path=str(ARTIFACTS / "forecast-chart.png"))
    backtest = page.locator(".stPlotlyChart").nth(1)
    backtest.scroll_into_view_if_needed()
    backtest.screenshot(path=str(ARTIFACTS / "forecast-backtest.png"))
