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
    nav.first.wait_for()  # the router lists every page in the sidebar: no links is a failure, not a skip
    labels = [t.strip() for t in nav.all_inner_texts()]
    assert labels, "the sidebar lists no pages"
    assert len(labels) == len(set(labels)), labels  # each page once
    assert page.locator("[data-testid='stException']").count() == 0
    page.locator("[data-testid='stMain']").screenshot(path=str(ARTIFACTS / "home.png"))
