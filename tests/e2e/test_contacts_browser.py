"""Contacts, a contact's page and analytics in real Chromium, on demo data the runtime produced; the CSV download."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
GIVEAWAY = "https://m.me/1234567890?ref=giveaway2025"
MENU_FLOW = {
    "id": 3, "name": "Menu", "version": 1,
    "draft": {"schema": 1, "nodes": [
        {"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
        {"id": "menu", "type": "send_message", "position": {"x": 260, "y": 0},
         "data": {"text": "Hi {{first_name}}! What would you like to know?",
                  "buttons": [{"id": "rules", "title": "Giveaway rules"}, {"id": "link", "title": "My link"}]}},
        {"id": "rules", "type": "send_message", "position": {"x": 520, "y": -80},
         "data": {"text": "Bring three friends and get a coupon.", "buttons": []}},
        {"id": "end", "type": "end", "position": {"x": 780, "y": 0}, "data": {}}],
        "edges": [{"id": "e1", "source": "start", "source_handle": "next", "target": "menu"},
                  {"id": "e2", "source": "menu", "source_handle": "rules", "target": "rules"},
                  {"id": "e3", "source": "menu", "source_handle": "link", "target": "end"},
                  {"id": "e4", "source": "rules", "source_handle": "next", "target": "end"}]},
}
VISITORS = ("Lena", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tess", "Uma", "Vik", "Wen", "Xia", "Yara", "Zoe")
SURNAMES = ("Smith", "Garcia", "Müller", "Brown", "Wilson")
CONTACTS = 27 + 8  # visitors, and the people of the story
MENU_ENTRY = {"id": 2, "name": "Help menu", "ref": "menu", "response_type": "flow", "response_flow_id": 3}


@pytest.fixture(scope="module")
def demo(live_app: LiveApp) -> dict[str, int]:
    """A referral campaign over two weeks, run through the runtime against the live app's database."""
    database = open_database(url=f"sqlite:///{live_app.db_path}")
    document = json.loads(FIXTURE.read_text())
    document["flows"].append(MENU_FLOW | {"published": MENU_FLOW["draft"]})
    document["entry_points"].append(MENU_ENTRY)
    with database.write_session() as session:
        import_workspace(session=session, document=document)
    today = datetime.now(UTC)
    clock = [today]
    people: dict[str, int] = {}
    with Runtime(database, clock=lambda: clock[0]) as runtime:
        def open_as(days_ago: int, user: str, name: str, link: str, channel: str = "messenger") -> None:
            clock[0] = today - timedelta(days=days_ago, hours=len(people) % 7)
            first, _, last = name.partition(" ")
            result = runtime.open_link(Inbound(text=link, channel=channel, channel_user_id=user, first_name=first,
                                               last_name=last, phone="+1 555 010 " + str(1000 + len(people))))
            people.setdefault(first, result.contact_id)

        for day in range(13, -1, -1):
            for n in range(day % 3 + 1):
                name = f"{VISITORS[(day * 3 + n) % len(VISITORS)]} {SURNAMES[(day + n) % len(SURNAMES)]}"
                open_as(day, f"visitor-{day}-{n}", name, GIVEAWAY, "telegram")
        open_as(12, "psid-ann", "Ann Lee", GIVEAWAY)
        open_as(10, "psid-bob", "Bob Novak", f"{GIVEAWAY}-c{people['Ann']}")
        open_as(9, "psid-cat", "Cat Rossi", f"{GIVEAWAY}-c{people['Ann']}")
        open_as(8, "psid-dan", "Dan Silva", f"{GIVEAWAY}-c{people['Bob']}")
        open_as(6, "psid-eve", "Eve Tanaka", f"{GIVEAWAY}-c{people['Dan']}")
        open_as(5, "psid-fay", "Fay Dubois", f"{GIVEAWAY}-c{people['Ann']}")
        open_as(4, "psid-ann", "Ann Lee", f"{GIVEAWAY}-c{people['Ann']}")  # blocked: self-referral
        open_as(3, "psid-bob", "Bob Novak", f"{GIVEAWAY}-c{people['Ann']}")  # blocked: duplicate
        open_as(2, "psid-gus", "Gus Jensen", f"{GIVEAWAY}-c999999")  # blocked: unknown referrer
        open_as(1, "psid-ann", "Ann Lee", "https://m.me/1234567890?ref=menu")
        runtime.reply(channel="messenger", channel_user_id="psid-ann", text="Giveaway rules")
        open_as(0, "psid-ivan", "Ivan Kowalski", "https://m.me/1234567890?ref=spring-sale")  # no such entry point
    database.dispose()
    return people


def test_contacts_page_and_paging(admin_page: Page, live_app: LiveApp, demo: dict[str, int]) -> None:
    visit(admin_page, f"{live_app.url}/contacts")
    expect(admin_page.get_by_text(f"{CONTACTS} contacts")).to_be_visible()
    table = admin_page.locator(".q-table")
    expect(table.get_by_role("link", name="Ivan Kowalski")).to_be_visible()
    expect(admin_page.get_by_text(f"1-25 of {CONTACTS}")).to_be_visible()
    admin_page.wait_for_timeout(300)
    screenshot(admin_page, "contacts")

    admin_page.get_by_role("button", name="Next page").click()  # Quasar asks the server for page 2
    expect(admin_page.get_by_text(f"26-{CONTACTS} of {CONTACTS}")).to_be_visible()
    table.locator("th", has_text="Referrals").click()  # sort by referrals, biggest first
    expect(admin_page.get_by_text(f"1-25 of {CONTACTS}")).to_be_visible()
    expect(table.locator("tbody tr").first).to_contain_text("Ann Lee")

    admin_page.get_by_label("Search").fill("rossi")
    expect(admin_page.get_by_text("1 contact found")).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table.locator("tbody tr").first).to_contain_text("Ann Lee")  # Cat's referrer
    screenshot(admin_page, "contacts-search")


def test_a_contact_page(admin_page: Page, live_app: LiveApp, demo: dict[str, int]) -> None:
    visit(admin_page, f"{live_app.url}/contacts/{demo['Ann']}")
    expect(admin_page.get_by_text("They referred (5)")).to_be_visible()
    expect(admin_page.get_by_text("You did it, Ann! Three friends joined. Your coupon: FRIENDS3")).to_be_visible()
    expect(admin_page.get_by_role("button", name="Giveaway rules").first).to_be_visible()  # buttons in the transcript
    expect(admin_page.get_by_text("Eve Tanaka · messenger · brought in nobody yet")).to_be_visible()  # level 3
    expect(admin_page.get_by_label("referral_points (number)")).to_have_value("3")
    admin_page.get_by_label("referral_points (number)").fill("three")
    admin_page.get_by_label("referral_points (number)").press("Enter")
    expect(admin_page.get_by_text("Field 'referral_points' is a number; 'three' was not saved.")).to_be_visible()
    admin_page.wait_for_timeout(400)
    screenshot(admin_page, "contact")

    admin_page.get_by_text("Dan Silva · messenger · brought in 1").click()  # the tree leads on
    expect(admin_page.get_by_text("They were referred (1)")).to_be_visible()
    expect(admin_page.locator("text=Dan Silva").first).to_be_visible()


def test_analytics_and_its_csv(admin_page: Page, live_app: LiveApp, demo: dict[str, int]) -> None:
    visit(admin_page, f"{live_app.url}/analytics")
    expect(admin_page.get_by_text("Giveaway 2025")).to_be_visible()
    expect(admin_page.locator("canvas").first).to_be_visible()  # the chart drew
    admin_page.wait_for_timeout(800)  # let the chart finish its animation before the picture
    screenshot(admin_page, "analytics")

    with admin_page.expect_download() as download_info:
        admin_page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename.startswith("referflow-analytics-last-30-days-")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    by_name = {row["Entry point"]: row for row in rows}
    assert list(by_name) == ["Giveaway 2025", "Help menu", "Unknown or switched-off links", "Total"]
    giveaway = by_name["Giveaway 2025"]
    assert (giveaway["Referrals counted"], giveaway["Blocked: self-referral"], giveaway["Blocked: duplicate"],
            giveaway["Blocked: unknown referrer"]) == ("5", "1", "1", "1")
    assert giveaway["Referring contacts"] == "3" and giveaway["Referrals per referrer"] == "1.67"
    assert 0 <= float(giveaway["Viral coefficient (K)"]) < 1.67  # new contacts through referral links ÷ active
