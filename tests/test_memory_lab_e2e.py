"""End-to-end: the memory lab in a real Chromium: shipped curves at once, then a live run stopped early."""

import re

import pytest

from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e


def test_memory_lab_shows_curves_and_trains_live(server_url, page):
    goto(page, f"{server_url}/memory_lab")
    page.get_by_role("heading", name="Memory lab").wait_for()
    charts = page.locator("[data-testid='stPlotlyChart']")
    charts.nth(4).wait_for()  # the five charts arrive one by one on a busy machine
    assert charts.count() >= 5  # accuracy, gradient norms, loss curves, clipping norm + loss
    assert page.locator("[data-testid='stException']").count() == 0
    for i, name in enumerate(("accuracy", "gradnorm", "losses", "clip_norm", "clip_loss")):
        charts.nth(i).screenshot(path=str(ARTIFACTS / f"memory_lab_{name}.png"))

    # a live run, stopped from the page: what was trained so far is kept as "Your run 1"
    page.get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"Training: .*step")).wait_for(timeout=120_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Your run 1").wait_for(timeout=120_000)
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("stopped early").count() >= 1
    page.locator("[data-testid='stMain']").screenshot(path=str(ARTIFACTS / "memory_lab.png"))
