"""The Entry points pages in real Chromium: copy buttons, QR downloads, and how the pages look with the demo."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit
from tests.helpers import encode, read_png, read_svg

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
GIVEAWAY = "https://m.me/1234567890?ref=giveaway2025"


@pytest.fixture(scope="module")
def demo(live_app: LiveApp) -> LiveApp:
    """The live app holding the demo workspace and a little activity: 3 opens, 2 new contacts, 1 referral."""
    database = open_database(url=f"sqlite:///{live_app.db_path}")
    try:
        with database.write_session() as session:
            import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
        with Runtime(database) as runtime:
            ann = runtime.open_link(Inbound(GIVEAWAY, "messenger", "psid-ann", first_name="Ann")).contact_id
            runtime.open_link(Inbound(f"{GIVEAWAY}-c{ann}", "messenger", "psid-bob", first_name="Bob"))
            runtime.open_link(Inbound(GIVEAWAY, "messenger", "psid-ann", first_name="Ann"))
    finally:
        database.dispose()
    return live_app


def test_the_list_shows_activity_and_explains_a_pasted_link(admin_page: Page, demo: LiveApp) -> None:
    page = admin_page
    visit(page, f"{demo.url}/entry-points")
    row = page.get_by_role("link", name="Giveaway 2025")
    expect(row).to_be_visible()
    expect(page.get_by_text("Starts flow “Share”")).to_be_visible()
    page.get_by_label("Link").fill(f"{GIVEAWAY}-c1--SPRING--seats--abc")
    expect(page.get_by_text("1 → Ann (contact #1 on messenger)")).to_be_visible()
    expect(page.get_by_text("Field 'seats' is a number; 'abc' was not saved.")).to_be_visible()
    page.wait_for_timeout(300)
    screenshot(page, "entry-points")


def test_copy_puts_the_link_on_the_clipboard(admin_page: Page, demo: LiveApp) -> None:
    page = admin_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=demo.url)
    visit(page, f"{demo.url}/entry-points/1")
    page.get_by_role("button", name="Copy entry link").click()  # Messenger's tab is open first
    expect(page.get_by_text("Link copied to the clipboard.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == GIVEAWAY

    page.get_by_role("tab", name="Telegram").click()
    page.get_by_role("button", name="Copy personal referral link").click()
    expect(page.get_by_text("https://t.me/giveaway_helper_bot?start=giveaway2025-c{{user_id}}")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == \
        "https://t.me/giveaway_helper_bot?start=giveaway2025-c{{user_id}}"


def test_qr_downloads_decode_to_the_entry_link(admin_page: Page, demo: LiveApp) -> None:
    page = admin_page
    visit(page, f"{demo.url}/entry-points/1")
    with page.expect_download() as png_download:
        page.get_by_role("button", name="PNG").first.click()
    assert png_download.value.suggested_filename == "giveaway2025-messenger.png"
    assert read_png(Path(png_download.value.path()).read_bytes()) == encode(GIVEAWAY)

    page.get_by_role("tab", name="WhatsApp").click()
    with page.expect_download() as svg_download:
        page.locator("button:visible", has_text="SVG").click()
    assert svg_download.value.suggested_filename == "giveaway2025-whatsapp.svg"
    assert read_svg(Path(svg_download.value.path()).read_bytes()) == \
        encode("https://wa.me/15551234567?text=/giveaway2025")


def test_the_editor_looks_tidy(admin_page: Page, demo: LiveApp) -> None:
    page = admin_page
    visit(page, f"{demo.url}/entry-points/1")
    expect(page.get_by_label("Ref", exact=True)).to_have_value("giveaway2025")
    page.get_by_label("Pattern (a regular expression, optional)").fill(r"recommended by (?P<referrer>\+?\d{7,15})")
    page.get_by_label("Try a message").fill("I was recommended by +15551234567")
    expect(page.get_by_text("Matches: referrer = +15551234567.")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")  # a full-page picture keeps the fixed header where the page is scrolled
    page.wait_for_timeout(300)
    screenshot(page, "entry-point-editor")

    visit(page, f"{demo.url}/entry-points/new")
    page.get_by_label("Ref", exact=True).fill("black--friday")
    page.get_by_role("button", name="Save entry point").click()
    expect(page.get_by_text("Give the entry point a name")).to_be_visible()
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(300)
    screenshot(page, "entry-point-new-errors")
