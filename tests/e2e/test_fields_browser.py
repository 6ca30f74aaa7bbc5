import json
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"


@pytest.fixture(scope="module", autouse=True)
def demo_workspace(live_app: LiveApp) -> None:
    database = open_database(url=f"sqlite:///{live_app.db_path}")
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(DEMO.read_text()))
    database.dispose()


def test_copy_button_puts_the_field_id_on_the_clipboard(admin_page: Page, context: BrowserContext,
                                                        live_app: LiveApp) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_app.url)
    visit(admin_page, f"{live_app.url}/fields")
    expect(admin_page.get_by_text("referral_points", exact=True)).to_be_visible()
    picture(admin_page, "fields")
    admin_page.evaluate("navigator.clipboard.writeText('nothing yet')")
    admin_page.get_by_role("button", name="Copy field ID 3").click()
    expect(admin_page.get_by_text("Field ID 3 (plan) copied.")).to_be_visible()
    assert admin_page.evaluate("navigator.clipboard.readText()") == "3"


def test_delete_dialog_lists_what_uses_the_field(admin_page: Page, live_app: LiveApp) -> None:
    visit(admin_page, f"{live_app.url}/fields")
    admin_page.get_by_role("button", name="Delete referral_points").click()
    dialog = admin_page.locator(".q-dialog")
    expect(dialog.get_by_text("Delete the field 'referral_points' (ID 1)?")).to_be_visible()
    expect(dialog.get_by_text("Trigger “Referred a new contact” · action 1 (set field)")).to_be_visible()
    admin_page.wait_for_timeout(400)  # let the dialog finish opening before the picture
    picture(admin_page, "fields-delete-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()


def test_the_field_dialog_says_whether_links_may_set_the_field(admin_page: Page, live_app: LiveApp) -> None:
    visit(admin_page, f"{live_app.url}/fields")
    expect(admin_page.get_by_text("Not allowed", exact=True)).to_be_visible()  # referral_points
    admin_page.get_by_role("button", name="Edit referral_points").click()
    dialog = admin_page.locator(".q-dialog")
    switch = dialog.get_by_role("switch", name="Links may set this field")
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(dialog.get_by_text("giveaway2025--referral_points--5")).to_be_visible()
    admin_page.wait_for_timeout(400)  # let the dialog finish opening before the picture
    picture(admin_page, "field-links-may-set")


def picture(page: Page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the fixed header and drawer are drawn where the page is scrolled to
    screenshot(page, name)
