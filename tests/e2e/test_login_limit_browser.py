"""The login rate limit against a real server (uvicorn) reached directly, with no proxy in front: a forged
X-Forwarded-For neither gets a fresh allowance nor lets the right password in during a lock-out (issue 10, item 10).
Its own module, because it locks the browser's address out of the app it runs against."""

from playwright.sync_api import Page, expect

from tests.e2e.helpers import LiveApp, screenshot, visit
from tests.helpers import ADMIN_PASSWORD


def test_a_forged_forwarded_for_does_not_lift_the_lock(page: Page, live_app: LiveApp) -> None:
    page.set_extra_http_headers({"X-Forwarded-For": "203.0.113.1"})
    visit(page, f"{live_app.url}/login")
    for left in (4, 3, 2, 1, 0):
        page.get_by_label("Admin password").fill("wrong password")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(f"That password is not right. {left} tr")).to_be_visible()
    for forged in ("198.51.100.2", "10.9.8.7"):
        page.set_extra_http_headers({"X-Forwarded-For": forged, "Forwarded": f"for={forged}"})
        visit(page, f"{live_app.url}/login")
        page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Too many wrong passwords. Try again in 10 minutes.")).to_be_visible()
    page.wait_for_timeout(500)
    screenshot(page, "login-locked")
    expect(page.get_by_text("Log out")).to_have_count(0)
    assert page.url.startswith(f"{live_app.url}/login")
