"""End-to-end: the first visitor after a server start lands on a page URL, not on home.

Streamlit 1.67 would then run in its legacy `pages/` folder mode (app.py skipped, every file in pages/ listed
as a page) for every session until someone opened home; scripts/app_server.py turns that mode off.
"""

import pytest

from tests.conftest import app_server, goto, new_context

pytestmark = pytest.mark.e2e

TITLES = ["Home", "Stock forecasting", "Music generation", "Sentiment", "Image captioning",
          "Translation", "Attention explorer", "Memory lab"]


def test_first_visit_to_a_page_url_gets_the_app_navigation(browser):
    with app_server("streamlit-first-visit.log") as url:
        for _ in range(2):  # the first session after start, and the next one
            ctx = new_context(browser)
            try:
                page = ctx.new_page()
                page.set_default_timeout(60_000)
                goto(page, f"{url}/forecast")
                page.locator(".st-key-forecast-chart").first.wait_for(state="visible")
                assert page.title() == "Sequence Studio"
                links = page.locator("[data-testid='stSidebarNav'] a").all_inner_texts()
                assert [t.split("\n")[-1].strip() for t in links] == TITLES
                assert page.locator("[data-testid='stException']").count() == 0
            finally:
                ctx.close()
