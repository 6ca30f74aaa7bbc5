"""Analytics in a real browser: the viral coefficient explained beside its companions, and the leaderboard."""

import json
from pathlib import Path

from playwright.sync_api import Page, expect

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.e2e.helpers import SCREENSHOTS, LiveApp, visit

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
LINK = "https://m.me/1234567890?ref=giveaway2025"


def test_analytics_shows_k_and_the_leaderboard(admin_page: Page, live_app: LiveApp) -> None:
    database = open_database(url=f"sqlite:///{live_app.db_path}")
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
    with Runtime(database) as runtime:
        def open_as(user: str, first: str, last: str, link: str = LINK) -> int:
            return runtime.open_link(Inbound(text=link, channel="messenger", channel_user_id=user,
                                             first_name=first, last_name=last)).contact_id
        ann, bob = open_as("ann", "Ann", "Rivers"), open_as("bob", "Bob", "Stone")
        for number in range(8):
            open_as(f"quiet-{number}", f"Quiet{number}", "")
        for number, referrer in enumerate((ann, ann, ann, bob)):
            open_as(f"friend-{number}", f"Friend{number}", "Lee", f"{LINK}-c{referrer}")
        open_as("friend-0", "Friend0", "Lee", f"{LINK}-c{bob}")  # already counted for Ann
    database.dispose()

    visit(admin_page, f"{live_app.url}/analytics")
    expect(admin_page.get_by_text("Viral coefficient K: how many new contacts")).to_be_visible()
    board = admin_page.locator(".q-card", has_text="Leaderboard")
    expect(board.get_by_text("Ann Rivers")).to_be_visible()
    expect(board.get_by_text("sees “Ann R.”")).to_be_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    admin_page.screenshot(path=str(SCREENSHOTS / "analytics-k-leaderboard.png"), full_page=True)
