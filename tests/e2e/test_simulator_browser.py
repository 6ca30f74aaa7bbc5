"""The Simulator in real Chromium, on the demo workspace: Ann gets her link, Bob, Cat and Dan join with it, Ann gets
her reward; the flows' paths are lit on the read-only canvas; Ann opening her own link is blocked; the session is saved
as a scenario that runs green."""

import json
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"


def import_demo(live_app: LiveApp) -> None:
    database = open_database(url=f"sqlite:///{live_app.db_path}")
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
    database.dispose()


def open_as_new_person(page: Page, name: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Open the link").click()
    expect(page.get_by_text(re.compile(f"^{name} opened "))).to_be_visible()


def test_a_referral_program_from_first_link_to_reward(admin_page: Page, live_app: LiveApp) -> None:
    import_demo(live_app)
    page = admin_page
    visit(page, f"{live_app.url}/simulator")
    expect(page.get_by_text("Open a link to see what the bot does.")).to_be_visible()
    screenshot(page, "simulator-empty")

    open_as_new_person(page, "Ann")
    expect(page.get_by_text(re.compile(r"^Invite .* https://m\.me/1234567890\?ref=giveaway2025-c\d+"))).to_be_visible()

    page.get_by_label("Referrer").click()
    page.get_by_role("option", name=re.compile("^Ann · #")).click()
    expect(page.get_by_label("Link or ref")).to_have_value(re.compile(r"giveaway2025-c\d+$"))
    for name in ("Bob", "Cat", "Dan"):
        open_as_new_person(page, name)
    expect(page.get_by_text("Referral counted")).to_be_visible()
    expect(page.get_by_text("You did it, Ann! Three friends joined. Your coupon: FRIENDS3", exact=True)).to_be_visible()
    check_reward = page.locator(".nicegui-card", has=page.get_by_text("Flow “Check reward” · ran for Ann"))
    expect(check_reward.locator(".rf-node--lit")).to_have_count(5)  # start, condition, reward, tag, end
    expect(check_reward.locator(".vue-flow__edge.rf-edge--lit")).to_have_count(4)
    expect(check_reward.locator(".vue-flow__edge:not(.rf-edge--lit)")).to_have_count(2)
    page.wait_for_timeout(800)  # let the canvases fit their flows before the picture
    screenshot(page, "simulator-reward")

    page.get_by_text("A simulated contact").click()
    page.get_by_role("combobox", name="Simulated contact").click()
    page.get_by_role("option", name=re.compile("^Ann · #")).click()
    page.get_by_role("button", name="Open the link").click()
    expect(page.get_by_text("Referral blocked (self-referral)")).to_be_visible()
    expect(page.get_by_text("A person cannot refer themselves; the self-referral was blocked.").first).to_be_visible()
    screenshot(page, "simulator-self-referral")

    page.get_by_role("button", name="Save as scenario").click()
    page.get_by_label("Scenario name").fill("Ann's three friends")
    page.get_by_text("Ann has the tag rewarded").click()
    screenshot(page, "simulator-save-dialog")
    page.get_by_role("button", name="Save scenario").click()
    expect(page.get_by_text("Scenario “Ann's three friends” saved with 5 steps.")).to_be_visible()
    page.get_by_role("button", name="Run").click()
    expect(page.get_by_text("A scenario starts from an empty sandbox: the 4 simulated contacts and the 5 recorded "
                            "steps of this session go.")).to_be_visible()  # asked first
    screenshot(page, "simulator-run-asks-first")
    page.get_by_role("button", name="Empty the sandbox and run").click()
    expect(page.get_by_text("“Ann's three friends” passed: all 5 steps")).to_be_visible()
    expect(page.get_by_text("ran the draft flows")).to_be_visible()
    screenshot(page, "simulator-scenario-report")
