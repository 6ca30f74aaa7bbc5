from playwright.sync_api import Page, expect

from tests.e2e.conftest import LiveApp, screenshot


def test_login_is_required_then_settings_save_and_survive_a_reload(page: Page, live_app: LiveApp) -> None:
    page.goto(f"{live_app.url}/settings")
    expect(page.get_by_text("Sign in to manage your bot.")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("Admin password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That password is not right.")).to_be_visible()
    page.get_by_label("Admin password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_label("Bot name")).to_be_visible()

    page.get_by_label("Bot name").fill("Giveaway bot")
    page.get_by_label("Facebook page ID or username").fill("1234567890")
    page.get_by_label("Telegram bot username").fill("giveaway_helper")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Telegram bot usernames always end in 'bot'")).to_be_visible()
    page.wait_for_timeout(600)  # let the error replace the hint before the picture
    screenshot(page, "settings-error")
    page.get_by_label("Telegram bot username").fill("giveaway_helper_bot")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()

    page.reload()
    expect(page.get_by_label("Telegram bot username")).to_have_value("giveaway_helper_bot")
    expect(page.get_by_label("Facebook page ID or username")).to_have_value("1234567890")
    expect(page.get_by_text("Giveaway bot").first).to_be_visible()
    screenshot(page, "settings")

    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_text("Sign in to manage your bot.")).to_be_visible()
