"""The admin UI in real Chromium under its security headers: sign-in only lands on this site's pages, admin pages
refuse to be framed, and every page — the flow canvas with its shadow root and inline styles included — works under
the Content-Security-Policy without a single violation (issue 10, items 8 and 11)."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect
from pytest_httpserver import HTTPServer

from storage.db import open_database
from storage.workspace_io import import_workspace
from tests.e2e.helpers import LiveApp, screenshot, visit
from tests.helpers import ADMIN_PASSWORD

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "referral_program.json"
# redirect_to values as they arrive in the query string; each leads off-site if followed as it is
HOSTILE_TARGETS = ["/%5Cexample.org/", "/%09/example.org/", "/%5C%5Cexample.org", "//example.org",
                   "https%3A%2F%2Fexample.org", "/%0A/example.org", "%2F%5Cexample.org", "https:example.org"]

WATCH_CSP = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation',
    (event) => window.__cspViolations.push(`${event.violatedDirective} blocked ${event.blockedURI}`), true);
"""


@pytest.fixture(scope="module")
def workspace(live_app: LiveApp) -> Iterator[dict]:
    db = open_database(url=f"sqlite:///{live_app.db_path}")
    with db.write_session() as session:
        report = import_workspace(session=session, document=json.loads(FIXTURE.read_text()))
    db.dispose()
    yield report.ids


def sign_in(page: Page, url: str) -> None:
    visit(page, url)
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Log out")).to_be_visible()


@pytest.mark.parametrize("target", HOSTILE_TARGETS[:3])
def test_signing_in_with_a_hostile_redirect_lands_on_the_overview(browser: Browser, live_app: LiveApp,
                                                                  target: str) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, f"{live_app.url}/login?redirect_to={target}")
        assert page.url == f"{live_app.url}/"
    finally:
        context.close()


def test_a_signed_in_admin_is_never_sent_off_site(admin_page: Page, live_app: LiveApp) -> None:
    for target in HOSTILE_TARGETS:
        admin_page.goto(f"{live_app.url}/login?redirect_to={target}")
        admin_page.wait_for_url(f"{live_app.url}/")
        expect(admin_page.get_by_text("Log out")).to_be_visible()
    admin_page.goto(f"{live_app.url}/login?redirect_to=/fields")  # a page of this site is still where one lands
    admin_page.wait_for_url(f"{live_app.url}/fields")


def test_log_out_sends_the_other_tabs_of_the_session_to_the_login(admin_page: Page, live_app: LiveApp) -> None:
    other = admin_page.context.new_page()
    visit(other, f"{live_app.url}/fields")
    expect(other.get_by_text("Log out")).to_be_visible()
    admin_page.get_by_role("button", name="Log out").click()
    expect(admin_page.get_by_text("Sign in to manage your bot.")).to_be_visible()
    expect(other.get_by_text("Sign in to manage your bot.")).to_be_visible()
    other.goto(f"{live_app.url}/login/complete?ticket=an-old-one")
    expect(other.get_by_text("That sign-in did not go through")).to_be_visible()
    screenshot(other, "login-incomplete")
    other.close()


def test_admin_pages_cannot_be_framed_by_another_site(page: Page, live_app: LiveApp, httpserver: HTTPServer) -> None:
    """A customer's site (another origin) embeds a page of its own, which shows, and the admin login, which must not."""
    httpserver.expect_request("/own").respond_with_data("<p>the customer's own page</p>", content_type="text/html")
    httpserver.expect_request("/").respond_with_data(
        f'<iframe id="own" src="{httpserver.url_for("/own")}"></iframe>'
        f'<iframe id="admin" src="{live_app.url}/login" width="600" height="400"></iframe>', content_type="text/html")
    page.goto(httpserver.url_for("/"))
    expect(page.frame_locator("#own").get_by_text("the customer's own page")).to_be_visible()
    page.wait_for_timeout(2000)  # time enough for the login page to appear, were it allowed to
    expect(page.frame_locator("#admin").get_by_text("Sign in to manage your bot.")).to_have_count(0)
    screenshot(page, "framed-admin-refused")


def test_every_page_works_under_the_content_security_policy(admin_page: Page, live_app: LiveApp,
                                                            workspace: dict) -> None:
    console: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            console.append(message.text)

    admin_page.on("console", keep)
    admin_page.add_init_script(WATCH_CSP)
    share = workspace["flows"][1]
    pages = ["/", "/flows", f"/flows/{share}", "/entry-points", f"/entry-points/{workspace['entry_points'][1]}",
             "/fields", "/triggers", f"/triggers/{workspace['triggers'][1]}", "/contacts", "/analytics",
             "/simulator", "/settings"]
    for path in pages:
        response = visit(admin_page, f"{live_app.url}{path}")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        expect(admin_page.get_by_text("Log out")).to_be_visible()
        if path == f"/flows/{share}":
            nodes = admin_page.locator(".vue-flow__node")
            expect(nodes.first).to_be_visible()
            assert nodes.count() >= 3
            box = nodes.first.bounding_box()
            assert box and box["width"] > 40  # the canvas's own styles were applied, in its shadow root
            admin_page.wait_for_timeout(500)
            screenshot(admin_page, "csp-flow-editor")
        else:
            admin_page.wait_for_timeout(300)
        violations = admin_page.evaluate("window.__cspViolations")
        assert violations == [], f"{path}: {violations}"
    assert not [text for text in console if "Content Security Policy" in text or "Refused to" in text], console
