"""End-to-end (issue 18, item 5): in Chromium, a model trained on the music page is kept with one click, the home
page lists it, and after a server restart (a new server on the same files) it is still listed and Delete removes it.
"""

from __future__ import annotations

import pytest

from tests.conftest import ARTIFACTS, app_server, goto, new_context, wait_idle

pytestmark = pytest.mark.e2e


def no_errors(page) -> None:
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("[data-testid='stAlertContentError']").count() == 0


def test_keep_a_trained_model_and_find_it_after_a_restart(browser, tmp_path, monkeypatch):
    monkeypatch.setenv("SEQCORE_HOME", str(tmp_path))  # the servers below share this registry, and only it
    folder = tmp_path / "checkpoints"
    context = new_context(browser)
    page = context.new_page()
    page.set_default_timeout(60_000)
    try:
        with app_server("kept-models-server-1.log") as url:
            goto(page, f"{url}/music")
            page.get_by_role("tab", name="Train your own").click()
            steps = page.locator(".st-key-music-train-steps input")
            steps.fill("10")  # the smallest run: a tiny LSTM, 10 steps
            steps.press("Enter")
            wait_idle(page)
            page.locator(".st-key-music-train").get_by_role("button", name="Train").click()
            keep = page.locator(".st-key-music-keep").get_by_role("button", name="Keep this model")
            keep.wait_for(timeout=180_000)  # the job finished and the page offers Keep this model
            no_errors(page)
            keep.click()
            wait_idle(page)
            kept = page.get_by_text("Kept as").first
            kept.wait_for()
            (name,) = [p.stem for p in folder.glob("*.safetensors")]
            assert name in kept.inner_text() and (folder / f"{name}.json").exists()
            kept.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "kept-model-music.png"))

            goto(page, url)
            row = page.locator(".st-key-home-kept")
            row.get_by_text(name).first.wait_for()
            delete = page.locator(f".st-key-home-delete-{name}").get_by_role("button", name="Delete")
            delete.wait_for()  # the row's text can be drawn before its last column
            assert delete.count() == 1
            no_errors(page)

        with app_server("kept-models-server-2.log") as url:  # a restart: the files are all the new server has
            goto(page, url)
            page.locator(".st-key-home-kept").get_by_text(name).first.wait_for()
            page.locator(".st-key-home-kept").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "kept-models-home.png"))
            page.locator(f".st-key-home-delete-{name}").get_by_role("button", name="Delete").click()
            wait_idle(page)
            page.get_by_text(f"Deleted {name}.").wait_for()
            assert page.locator(f".st-key-home-delete-{name}").count() == 0
            assert not list(folder.glob(f"{name}.*"))
            no_errors(page)
    finally:
        context.close()
