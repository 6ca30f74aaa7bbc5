import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from storage.db import open_database
from storage.models import Trigger
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
LOOP = {"name": "Points echo", "event": "field_changed", "field_id": 1,
        "actions": [{"type": "set_field", "field_id": 1, "op": "increase", "value": 1}]}


@pytest.fixture(scope="module", autouse=True)
def demo_workspace(live_app: LiveApp) -> None:
    """The demo program plus a trigger that sets itself off, so the list has a problem to show."""
    database = open_database(url=f"sqlite:///{live_app.db_path}")
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(DEMO.read_text()))
        session.add(Trigger(**LOOP, position=2))
    database.dispose()


def test_list_shows_triggers_their_problems_and_the_switch_persists(admin_page: Page, live_app: LiveApp) -> None:
    visit(admin_page, f"{live_app.url}/triggers")
    expect(admin_page.get_by_text("Referred a new contact via giveaway2025")).to_be_visible()
    expect(admin_page.get_by_text("can repeat forever without waiting for the contact")).to_be_visible()
    picture(admin_page, "triggers")
    switches = admin_page.get_by_role("switch")
    expect(switches).to_have_count(3)
    switches.nth(2).click()
    expect(admin_page.get_by_text("Trigger 'Points echo' is off.")).to_be_visible()
    admin_page.reload()
    expect(admin_page.get_by_role("switch").nth(2)).to_have_attribute("aria-checked", "false")


def test_editor_for_the_referral_trigger(admin_page: Page, live_app: LiveApp) -> None:
    visit(admin_page, f"{live_app.url}/triggers")
    admin_page.get_by_role("link", name="Referred a new contact").click()
    expect(admin_page.get_by_label("Name")).to_have_value("Referred a new contact")
    expect(admin_page.get_by_text("No problems found with this trigger.")).to_be_visible()
    picture(admin_page, "trigger-editor")
    admin_page.get_by_role("button", name="Add condition").click()
    # adding a condition redraws the form, Save included: a click on the old button would be lost
    expect(admin_page.get_by_role("combobox", name="Is")).to_be_visible()
    admin_page.get_by_role("button", name="Save trigger").click()
    expect(admin_page.get_by_text("Choose the field to test.")).to_be_visible()
    admin_page.wait_for_timeout(400)
    picture(admin_page, "trigger-editor-error")


def _new_trigger_with_action(page: Page, live_app: LiveApp, name: str, action: str) -> None:
    """Open the editor for a new trigger, name it and give it one action of the kind `action` (its title)."""
    visit(page, f"{live_app.url}/triggers/new")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Add action").click()
    page.get_by_label("Action").click()
    page.get_by_role("option", name=action).click()


def test_new_trigger_editor(admin_page: Page, live_app: LiveApp) -> None:
    _new_trigger_with_action(admin_page, live_app, "Thank the referrer", "Notify referrer")
    admin_page.get_by_label("Message").fill("{{referred.first_name}} joined with your link, thank you!")
    admin_page.get_by_role("button", name="Save trigger").click()
    expect(admin_page.get_by_text("Trigger 'Thank the referrer' saved.")).to_be_visible()
    expect(admin_page).to_have_url(f"{live_app.url}/triggers/4")
    picture(admin_page, "trigger-new")


def test_the_template_action_editor(admin_page: Page, live_app: LiveApp) -> None:
    _new_trigger_with_action(admin_page, live_app, "Remember the friend", "Set field from a template")
    admin_page.get_by_label("Template").fill("{{referred.first_name}} joined")
    admin_page.get_by_label("Field").click()  # choosing the field redraws the form, with the template kept
    admin_page.get_by_role("option", name="plan (text)").click()
    expect(admin_page.get_by_label("Template")).to_have_value("{{referred.first_name}} joined")
    expect(admin_page.get_by_text("No problems found with this trigger.")).to_be_visible()
    picture(admin_page, "trigger-template-action")
    admin_page.get_by_role("button", name="Save trigger").click()
    expect(admin_page.get_by_text("Trigger 'Remember the friend' saved.")).to_be_visible()


def picture(page: Page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # the fixed header and drawer are drawn where the page is scrolled to
    screenshot(page, name)
