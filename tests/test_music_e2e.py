"""End-to-end: in Chromium, the music page generates a tune and shows the audio player."""

import pytest

from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e


def test_generate_shows_the_audio_player(server_url, page):
    goto(page, f"{server_url}/music")
    page.get_by_role("heading", name="Music generation").wait_for()
    page.get_by_role("button", name="Generate").first.click()
    wait_idle(page)
    player = page.locator("[data-testid='stAudio']").first
    player.wait_for()
    assert player.evaluate("el => el.tagName") == "AUDIO" or player.locator("audio").count() == 1
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    # The player and the figures under it, as the user sees them.
    block = player.locator("xpath=ancestor::div[@data-testid='stVerticalBlock'][1]")
    block.scroll_into_view_if_needed()
    block.screenshot(path=str(ARTIFACTS / "music-player.png"))
    roll = page.locator(".stPlotlyChart").first
    roll.scroll_into_view_if_needed()
    roll.locator(".main-svg").first.wait_for()
    roll.screenshot(path=str(ARTIFACTS / "music-piano-roll.png"))
    duration = player.evaluate("el => (el.tagName === 'AUDIO' ? el : el.querySelector('audio')).duration")
    assert duration and duration > 1  # a playable WAV of a real tune, not an empty clip
