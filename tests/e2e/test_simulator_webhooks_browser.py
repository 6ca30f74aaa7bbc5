"""The simulator's "as the channel's real webhook" in real Chromium: Ann's open arrives as Messenger's own webhook
body, and delivering it again changes nothing."""

import re

from playwright.sync_api import Page, expect

from tests.e2e.helpers import LiveApp, screenshot, visit
from tests.e2e.test_simulator_browser import import_demo


def test_an_open_as_messengers_webhook_and_its_redelivery(admin_page: Page, live_app: LiveApp) -> None:
    import_demo(live_app)
    page = admin_page
    visit(page, f"{live_app.url}/simulator")
    page.get_by_label("Name").fill("Ann")
    page.get_by_text("As the channel's real webhook").click()
    page.get_by_role("button", name="Open the link").click()
    expect(page.get_by_text("Delivered as Messenger's webhook")).to_be_visible()
    expect(page.get_by_text(re.compile(r"^Invite .* https://m\.me/1234567890\?ref=giveaway2025-c\d+"))).to_be_visible()
    page.get_by_text("The body the platform sent").click()
    expect(page.get_by_text('"payload": "GET_STARTED"')).to_be_visible()
    screenshot(page, "simulator-webhook-open")

    page.get_by_role("button", name="Deliver again").click()
    expect(page.get_by_text("Messenger delivered the same webhook again")).to_be_visible()
    expect(page.get_by_text(re.compile("The same event id came in again, so nothing changed"))).to_be_visible()
    screenshot(page, "simulator-webhook-again")
