"""The Channels page in real Chromium: the web chat's link opens the chat in a new tab, and the page is looked at."""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import LiveApp, screenshot, visit


@pytest.fixture(scope="module", autouse=True)
def _demo_workspace() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFERFLOW_SEED_DEMO", "1")
        yield


def test_open_the_chat_opens_the_entry_points_web_chat(admin_page: Page, live_app: LiveApp) -> None:
    visit(admin_page, f"{live_app.url}/channels")
    expect(admin_page.get_by_text("Connected", exact=True)).to_be_visible()  # the web chat
    links = admin_page.get_by_text(re.compile(rf"^{re.escape(live_app.url)}/webchat/\?p=[^&\s]+&ref=[\w-]+$"))
    expect(links.first).to_be_visible()
    refs = [text.strip().rsplit("ref=", 1)[1] for text in links.all_text_contents()]
    giveaway = refs.index("giveaway2025")  # the demo has several entry points, one link and button each
    chat_link = links.nth(giveaway).text_content().strip()
    expect(admin_page.get_by_text(re.compile(r'^<script src=".*data-referflow-chat='))).to_be_visible()
    screenshot(admin_page, "channels")

    with admin_page.context.expect_page() as opened:
        admin_page.get_by_role("button", name="Open the chat").nth(giveaway).click()
    chat = opened.value
    chat.wait_for_load_state()
    assert chat.url == chat_link
    expect(chat.get_by_label("What is your first name?")).to_be_visible()
    screenshot(chat, "channels-opened-chat")
