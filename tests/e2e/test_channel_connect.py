"""The Channels page's connect forms in real Chromium: every messaging platform has one, secrets are typed into
password fields, and the callback address is shown."""

from playwright.sync_api import Page, expect

from tests.e2e.helpers import LiveApp, screenshot, visit


def test_every_platform_has_a_connect_form_with_password_fields(admin_page: Page, live_app: LiveApp) -> None:
    visit(admin_page, f"{live_app.url}/channels")
    for label in ("Telegram", "Messenger", "Instagram", "WhatsApp", "Viber"):
        expect(admin_page.get_by_role("button", name=f"Connect {label}")).to_be_visible()
    token = admin_page.get_by_label("Bot token")
    expect(token).to_have_attribute("type", "password")
    expect(admin_page.get_by_text(f"Callback address: {live_app.url}/hooks/telegram")).to_be_visible()
    admin_page.get_by_role("button", name="Connect Telegram").click()
    expect(admin_page.get_by_text("Fill in Bot token.")).to_be_visible()
    screenshot(admin_page, "channels-connect-forms")
