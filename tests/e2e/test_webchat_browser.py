"""The web chat in real Chromium, tried as a new user would: the admin opens Channels and the giveaway's web chat link;
Ann chats in one browser, shares her personal link; Bob opens it in another (on a phone-sized screen); Ann's open chat
shows that Bob joined, without a reload; Contacts, the referral tree and Analytics show both and the referral. Then
the embed snippet on a plain page of another origin."""

import http.server
import re
import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.helpers import LiveApp, screenshot, visit

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module", autouse=True)
def _demo_workspace() -> Iterator[None]:
    """The app starts with the demo Referral program (giveaway2025, the Share flow, the referral trigger)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REFERFLOW_SEED_DEMO", "1")
        yield


def test_ann_brings_bob_through_the_web_chat(admin_page: Page, live_app: LiveApp, browser: Browser) -> None:
    chat_link = _giveaway_chat_link(admin_page, live_app)
    screenshot(admin_page, "webchat-channels")

    ann_context = browser.new_context(viewport={"width": 1000, "height": 760})
    ann = ann_context.new_page()
    ann.goto(chat_link)
    _give_name(ann, "Ann")
    invite = ann.get_by_test_id("bot-message").filter(has_text="Invite your friends")
    expect(invite).to_be_visible()
    personal = invite.locator("a").first
    expect(personal).to_have_text(re.compile(r"/webchat/\?p=[^&]+&ref=giveaway2025-c\d+$"))
    personal_link = personal.get_attribute("href")
    assert personal_link == personal.text_content()
    expect(ann.get_by_test_id("status")).to_have_text("Online")

    bob_context = browser.new_context(**PHONE)
    bob = bob_context.new_page()
    bob.goto(personal_link)
    expect(bob.get_by_label("What is your first name?")).to_be_visible()
    screenshot(bob, "webchat-name-prompt-phone")
    _give_name(bob, "Bob")
    bob_invite = bob.get_by_test_id("bot-message").filter(has_text="Invite your friends")
    expect(bob_invite).to_be_visible()  # Bob is welcomed with his own link
    expect(bob_invite.locator("a")).not_to_have_text(personal_link)
    screenshot(bob, "webchat-bob-phone")

    expect(ann.get_by_test_id("bot-message").filter(has_text="Bob joined with your link!")).to_be_visible()
    expect(ann.get_by_test_id("bot-message").filter(has_text="1 of 3 friends joined so far")).to_be_visible()
    screenshot(ann, "webchat-ann-told")

    ann.get_by_label("Your message").fill("Thanks! <b>not bold</b>")
    ann.get_by_role("button", name="Send").click()
    expect(ann.get_by_test_id("visitor-message").last).to_have_text("Thanks! <b>not bold</b>")  # text, not HTML
    assert ann.locator(".bubble b").count() == 0

    message = ann.get_by_label("Your message")
    message.fill("x" * 1001)
    expect(ann.get_by_role("button", name="Send")).to_be_disabled()
    message.press("Enter")
    expect(ann.get_by_test_id("notice").last).to_have_text(
        "Messages can be at most 1,000 characters; yours has 1,001. Shorten it and send it again.")

    ann.reload()  # history on the next visit, the same contact, no second welcome
    expect(ann.get_by_test_id("bot-message").filter(has_text="Bob joined with your link!")).to_have_count(1)
    expect(ann.get_by_test_id("bot-message").filter(has_text="Invite your friends")).to_have_count(1)

    visit(admin_page, f"{live_app.url}/contacts")
    ann_row = admin_page.get_by_role("row", name=re.compile(r"^Ann v[0-9a-f]+ webchat"))
    bob_row = admin_page.get_by_role("row", name=re.compile(r"^Bob v[0-9a-f]+ webchat"))
    expect(ann_row).to_be_visible()
    expect(bob_row.get_by_role("link", name="Ann", exact=True)).to_be_visible()  # Bob was referred by Ann
    screenshot(admin_page, "webchat-contacts")
    ann_row.get_by_role("link", name="Ann", exact=True).click()
    tree = admin_page.locator(".q-card").filter(has_text="Referral tree")
    expect(tree.get_by_text(re.compile(r"^Bob · webchat"))).to_be_visible()
    expect(admin_page.get_by_text("Bob joined with your link!")).to_be_visible()  # the live conversation
    screenshot(admin_page, "webchat-ann-contact")
    visit(admin_page, f"{live_app.url}/analytics")
    expect(admin_page.get_by_text("Referrals counted", exact=True).locator("..")).to_contain_text("1")
    expect(admin_page.get_by_text("New contacts", exact=True).locator("..")).to_contain_text("2")
    top_referrers = admin_page.locator(".q-card").filter(has_text="Leaderboard")
    expect(top_referrers.get_by_role("link", name="Ann")).to_be_visible()
    screenshot(admin_page, "webchat-analytics")
    ann_context.close()
    bob_context.close()


def test_the_embed_puts_the_chat_on_a_page_of_another_origin(admin_page: Page, live_app: LiveApp,
                                                           browser: Browser) -> None:
    visit(admin_page, f"{live_app.url}/channels")
    admin_page.get_by_label("Entry point", exact=True).click()  # the demo has several; the giveaway's chat
    admin_page.get_by_role("option", name="Giveaway 2025", exact=True).click()
    snippet = admin_page.get_by_text(re.compile(r"^<script src=.*/webchat/embed\.js.*ref=giveaway2025\b"))
    page_html = ("<!doctype html><html><head><meta charset='utf-8'><title>Flower shop</title></head>"
                 "<body style='font-family:sans-serif;margin:40px'><h1>Flower shop</h1>"
                 "<p>Fresh tulips every morning.</p>" + snippet.text_content() + "</body></html>")
    framed_admin = f"<!doctype html><iframe src='{live_app.url}/login' width=600 height=400></iframe>"
    with _foreign_site({"/": page_html, "/admin-in-a-frame": framed_admin}) as site:
        assert not site.startswith(live_app.url)
        context = browser.new_context(viewport={"width": 1100, "height": 760})
        shop = context.new_page()
        shop.goto(site + "/")
        screenshot(shop, "webchat-embed-closed")
        shop.get_by_role("button", name="Chat with us").click()
        frame = shop.frame_locator("iframe[title=Chat]")
        frame.get_by_label("What is your first name?").fill("Cleo")
        frame.get_by_role("button", name="Start chatting").click()
        expect(frame.get_by_test_id("bot-message").filter(has_text="Invite your friends")).to_be_visible()
        screenshot(shop, "webchat-embed-foreign-page")

        shop.goto(f"{site}/admin-in-a-frame", wait_until="load")  # the frame has loaded, or failed to
        [framed] = shop.main_frame.child_frames
        assert framed.url.startswith("chrome-error://")  # Chromium refused to show the admin login in it
        expect(shop.frame_locator("iframe").get_by_text("Sign in to manage your bot.")).to_have_count(0)
        context.close()


def _giveaway_chat_link(admin_page: Page, live_app: LiveApp) -> str:
    visit(admin_page, f"{live_app.url}/channels")
    link = admin_page.get_by_text(re.compile(r"/webchat/\?p=[^&\s]+&ref=giveaway2025$")).first
    expect(link).to_be_visible()
    return link.text_content().strip()


def _give_name(page: Page, name: str) -> None:
    page.get_by_label("What is your first name?").fill(name)
    page.get_by_role("button", name="Start chatting").click()


class _Site(http.server.BaseHTTPRequestHandler):
    pages: dict[str, bytes] = {}

    def do_GET(self) -> None:
        body = self.pages.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *_: object) -> None:
        pass


class _foreign_site:
    """A plain web server on another port of 127.0.0.1 (another origin) serving the given pages."""

    def __init__(self, pages: dict[str, str]) -> None:
        self.pages = {path: text.encode() for path, text in pages.items()}

    def __enter__(self) -> str:
        handler = type("Handler", (_Site,), {"pages": self.pages})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
