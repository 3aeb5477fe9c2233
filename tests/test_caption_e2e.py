"""End to end in Chromium: the captioning page writes a caption and overlays its attention."""

import pytest

from tests.conftest import ARTIFACTS, goto, wait_idle


@pytest.mark.e2e
def test_caption_with_attention_overlay(page, server_url):
    goto(page, f"{server_url}/captioning")
    page.get_by_text("Image captioning").first.wait_for()
    overlay = page.locator(".st-key-captioning-overlay-lstm img").first
    overlay.wait_for()
    caption = page.locator("h3").filter(has_text="“").first
    assert caption.inner_text().strip("“” \n").startswith("a ")
    # Move the word slider to the last word: the overlay redraws for that word.
    slider = page.locator(".st-key-captioning-word-lstm input[type='range']").first
    slider.focus()
    page.keyboard.press("End")
    wait_idle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    box = page.locator("[data-testid='stHorizontalBlock']").filter(
        has=page.locator(".st-key-captioning-overlay-lstm")).first
    box.screenshot(path=str(ARTIFACTS / "caption-overlay.png"))
    label = page.locator(".st-key-captioning-overlay-lstm").inner_text()
    assert "where it looked while writing" in label
    assert page.locator("[data-testid='stException']").count() == 0
