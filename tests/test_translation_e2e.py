"""End to end in Chromium: type a Chinese sentence, read both translations, the alignment and the beam tree."""

import pytest

from tests.conftest import ARTIFACTS, goto, wait_idle

pytestmark = pytest.mark.e2e


def translations(page) -> list[str]:
    return [h.inner_text().strip() for h in page.locator("[class*='st-key-translation-out-'] h3").all()]


def test_translate_in_chromium(server_url, page):
    goto(page, f"{server_url}/translation")
    page.get_by_role("heading", name="Translation").first.wait_for()
    assert all(t in {"I am mika.", "I'm mika."} for t in translations(page)) and len(translations(page)) == 2

    box = page.locator(".st-key-translation-text-0 textarea")
    box.fill("我喜欢喝茶。")
    box.press("Control+Enter")
    wait_idle(page)
    got = translations(page)
    assert len(got) == 2 and all("tea" in t.lower() for t in got), got

    heat = page.locator(".st-key-translation-alignment .main-svg").first
    heat.wait_for()
    ticks = page.locator(".st-key-translation-alignment .xtick text").evaluate_all("els => els.map(e => e.textContent)")
    assert "0:我" in ticks, ticks
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".st-key-translation-alignment").screenshot(path=str(ARTIFACTS / "translation-alignment.png"))

    page.get_by_role("tab", name="Beam search").click()
    wait_idle(page)
    page.locator(".st-key-translation-tree .main-svg").first.wait_for()
    page.locator(".st-key-translation-tree").screenshot(path=str(ARTIFACTS / "translation-beam-tree.png"))

    box.fill("😀😀")
    box.press("Control+Enter")
    wait_idle(page)
    assert "emoji" in page.locator("[data-testid='stAlertContentError']").first.inner_text()
    assert page.locator("[data-testid='stException']").count() == 0
