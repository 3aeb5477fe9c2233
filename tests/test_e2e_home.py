"""End-to-end: the home page in a real Chromium against `streamlit run`."""

import pytest

from tests.conftest import ARTIFACTS, goto

pytestmark = pytest.mark.e2e


def test_home_page_in_chromium(server_url, page):
    goto(page, server_url)
    assert page.title() == "Sequence Studio"
    page.get_by_role("heading", name="Sequence Studio").wait_for()
    assert page.get_by_text("Device:").count() >= 1
    nav = page.locator("[data-testid='stSidebarNav'] a")
    labels = [t.strip() for t in nav.all_inner_texts()]
    if labels:  # the sidebar nav shows once there is more than the home page
        assert len(labels) == len(set(labels)), labels
    assert page.locator("[data-testid='stException']").count() == 0
    page.locator("[data-testid='stMain']").screenshot(path=str(ARTIFACTS / "home.png"))
