"""End-to-end: the memory lab in a real Chromium: the shipped fair race (equal steps and equal wall time side by
side), the parity race, then a live run stopped early (and what it leaves to keep)."""

import re

import pytest

from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e


def test_memory_lab_shows_curves_and_trains_live(server_url, page):
    goto(page, f"{server_url}/memory_lab")
    page.get_by_role("heading", name="Memory lab").wait_for()
    charts = page.locator("[data-testid='stPlotlyChart']")
    charts.nth(5).wait_for()  # the six charts arrive one by one on a busy machine
    assert charts.count() >= 6  # accuracy at equal steps and at equal wall time, gradient norms, loss, clipping x2
    assert page.locator("[data-testid='stException']").count() == 0
    for i, name in enumerate(("accuracy_steps", "accuracy_time", "gradnorm", "losses", "clip_norm", "clip_loss")):
        charts.nth(i).screenshot(path=str(ARTIFACTS / f"memory_lab_{name}.png"))
    # the two races side by side: their charts share a row
    steps_box, time_box = charts.nth(0).bounding_box(), charts.nth(1).bounding_box()
    assert abs(steps_box["y"] - time_box["y"]) < 5 and time_box["x"] > steps_box["x"] + steps_box["width"] / 2
    page.get_by_text("Equal steps:", exact=False).first.wait_for()
    page.get_by_text("Equal wall time:", exact=False).first.wait_for()
    page.locator("[data-testid='stMain']").screenshot(path=str(ARTIFACTS / "memory_lab_races.png"))

    page.get_by_text("Shipped: parity").click()
    page.get_by_text("Parity (of a stream of bits)").first.wait_for()
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    charts.nth(3).wait_for()
    charts.nth(0).screenshot(path=str(ARTIFACTS / "memory_lab_parity_steps.png"))

    # a live run, stopped from the page: what was trained so far is kept as "Your run 1"
    page.get_by_role("button", name="Train").click()
    page.get_by_text(re.compile(r"Training: .*step")).wait_for(timeout=120_000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_text("Your run 1").wait_for(timeout=120_000)
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.get_by_text("stopped early").count() >= 1
    # the run's Transformer is offered to keep, or the page says why there is none (stopped before it trained)
    page.get_by_text(re.compile(r"Nothing to keep from this run|This run's Transformer")).first.wait_for()
    page.locator("[data-testid='stMain']").screenshot(path=str(ARTIFACTS / "memory_lab.png"))
