"""End-to-end: in Chromium, the music page generates a tune and shows the audio player, the keep-time switch and the
bar check, the structure and novelty lines, a copied training tune flagged, and the piano roll coloured by the
model's confidence with its colour bar."""

import re

import pytest

from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e


def no_errors(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0


def generate(page) -> None:
    page.locator(".st-key-music-generate button").click()
    wait_idle(page)
    no_errors(page)


def test_generate_shows_the_audio_player(server_url, page):
    goto(page, f"{server_url}/music")
    page.get_by_role("heading", name="Music generation").wait_for()
    page.get_by_role("button", name="Generate").first.click()
    wait_idle(page)
    player = page.locator("[data-testid='stAudio']").first
    player.wait_for()
    assert player.evaluate("el => el.tagName") == "AUDIO" or player.locator("audio").count() == 1
    no_errors(page)
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


def test_keep_time_bar_check_novelty_and_confidence(server_url, page):
    from seqcore.tasks import music

    goto(page, f"{server_url}/music")
    page.get_by_role("heading", name="Music generation").wait_for()
    switch = page.locator(".st-key-music-constrain input")
    assert switch.is_checked()  # meter-aware decoding is on by default
    generate(page)
    page.get_by_text("bars have the right length (meter-aware decoding)").wait_for()
    page.get_by_text(re.compile(r"Structure: \d+ part\(s\) of .* bars · repeats")).wait_for()
    page.get_by_text(re.compile(r"Novelty: (nearest training tune #\d+ holds|no run of)")).wait_for()
    page.get_by_text("probability the model gave its letter").wait_for()
    # the piano roll: notes in many colours of the confidence scale, and its colour bar
    roll = page.locator(".st-key-music-tune-0-roll[data-stale='false']")
    roll.scroll_into_view_if_needed()
    roll.locator(".main-svg").first.wait_for()
    assert roll.locator(".colorbar").count() >= 1
    fills = roll.locator(".barlayer .point path").evaluate_all("els => [...new Set(els.map(e => e.style.fill))]")
    assert len(fills) >= 5, fills
    roll.screenshot(path=str(ARTIFACTS / "music-confidence-roll.png"))

    page.locator(".st-key-music-constrain label").click()  # the raw model
    wait_idle(page)
    assert not switch.is_checked()
    generate(page)
    page.get_by_text("(raw model, no meter-aware decoding)").wait_for()

    # A training tune pasted as the prime: the tune that comes back is flagged as close to it, and it is shown.
    tunes = music.training_index().tunes
    planted = next(i for i, t in enumerate(tunes) if 1200 < len(t) < 1900 and "[" not in t and '"' not in t)
    box = page.locator(".st-key-music-prime textarea")
    box.fill(tunes[planted])
    box.press("Control+Enter")
    wait_idle(page)
    generate(page)
    flag = page.get_by_text(f"Close to training tune #{planted}:")
    flag.wait_for()
    page.get_by_text(f"Training tune #{planted}", exact=True).wait_for()
    flag.scroll_into_view_if_needed()
    flag.locator("xpath=ancestor::div[@data-testid='stVerticalBlock'][1]").screenshot(
        path=str(ARTIFACTS / "music-novelty.png"))
