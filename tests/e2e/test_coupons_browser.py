"""The Coupon pools page in a real browser: paste codes, upload a file of codes, and the empty-pool warning on the
pool's card and the Overview after the last code went out."""

from pathlib import Path

from playwright.sync_api import Page, expect

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit
from tests.helpers import coupon_workspace


def test_paste_upload_and_see_an_empty_pool_warned(admin_page: Page, live_app: LiveApp, tmp_path: Path) -> None:
    page = admin_page
    visit(page, f"{live_app.url}/coupons")
    page.get_by_label("New pool").fill("Spring")
    page.get_by_role("button", name="Create pool").click()
    expect(page.get_by_text("Coupon pool 'Spring' created; paste its codes below.")).to_be_visible()
    page.get_by_label("Paste codes").fill("SPRING-1\nSPRING-1")
    page.get_by_role("button", name="Add codes").click()
    expect(page.get_by_text("Spring: Added 1 code; 1 already in the pool ('SPRING-1').")).to_be_visible()
    codes = tmp_path / "codes.csv"
    codes.write_text("code,note\nSPRING-2,first batch\n", encoding="utf-8")
    page.locator("input[type=file]").set_input_files(str(codes))
    expect(page.get_by_text("Spring: Added 1 code.")).to_be_visible()  # the CSV's header row is no code
    expect(page.get_by_text("2 of 2 left · 0 given")).to_be_visible()
    screenshot(page, "coupons-with-codes")

    database = open_database(url=f"sqlite:///{live_app.data_dir / 'referflow.db'}")
    with database.write_session() as session:
        import_workspace(session=session, document=coupon_workspace())
    with Runtime(database) as runtime:
        for user in ("ann", "bob", "cat"):
            runtime.open_link(Inbound(text="shop", channel="messenger", channel_user_id=user, first_name=user))
    database.dispose()
    visit(page, f"{live_app.url}/coupons")
    expect(page.get_by_text("0 of 2 left · 2 given")).to_be_visible()
    expect(page.get_by_text("Coupon pool 'Spring' has no codes left. 1 person was to get one")).to_be_visible()
    screenshot(page, "coupons-empty")
    visit(page, f"{live_app.url}/")
    expect(page.get_by_text("Coupon pool 'Spring' has no codes left.")).to_be_visible()
    screenshot(page, "overview-pool-warning")
