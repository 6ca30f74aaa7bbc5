import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import LiveApp, screenshot, visit
from tests.helpers import ADMIN_PASSWORD


def test_login_is_required_then_settings_save_and_survive_a_reload(page: Page, live_app: LiveApp) -> None:
    visit(page, f"{live_app.url}/settings")
    expect(page.get_by_text("Sign in to manage your bot.")).to_be_visible()
    screenshot(page, "login")
    page.get_by_label("Admin password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("That password is not right.")).to_be_visible()
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
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


INDIGO = "rgb(67, 56, 202)"  # builder.frame.PRIMARY, the header's indigo-700


def test_primary_buttons_are_indigo_like_the_header_and_the_header_follows_the_bot_name(page: Page,
                                                                                      live_app: LiveApp) -> None:
    visit(page, f"{live_app.url}/login")
    sign_in = page.get_by_role("button", name="Sign in")
    expect(sign_in).to_have_css("background-color", INDIGO)  # Quasar's light blue looked disabled
    page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
    sign_in.click()
    expect(page.get_by_text("Log out")).to_be_visible()
    visit(page, f"{live_app.url}/settings")
    save = page.get_by_role("button", name="Save settings")
    expect(save).to_have_css("background-color", INDIGO)
    page.get_by_label("Bot name").fill("Spring sale bot")
    save.click()
    expect(page.get_by_text("Settings saved.")).to_be_visible()
    expect(page.locator("header").get_by_text("Spring sale bot")).to_be_visible()  # before any reload
    page.wait_for_timeout(300)
    screenshot(page, "settings-indigo-buttons")


@pytest.mark.parametrize(("path", "label", "save"), [
    ("/settings", "Bot name", "Save settings"),
    ("/entry-points/new", "Name", None),  # not saved: a new entry point needs a ref too
    ("/triggers/new", "Name", None),
])
def test_leaving_an_editor_with_unsaved_changes_asks_first(page: Page, live_app: LiveApp, path: str, label: str,
                                                          save: str | None) -> None:
    visit(page, f"{live_app.url}/login")
    if page.get_by_label("Admin password").is_visible():
        page.get_by_label("Admin password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text("Log out")).to_be_visible()
    visit(page, f"{live_app.url}{path}")
    box = page.get_by_label(label, exact=True)
    box.fill("Typed, not saved")
    page.wait_for_timeout(800)  # the page tells the browser about the change
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.get_by_text("Analytics", exact=True).click()  # the navigation
    page.wait_for_timeout(800)
    assert asked == ["beforeunload"]
    expect(box).to_have_value("Typed, not saved")  # stayed, nothing lost
    if save:
        page.get_by_role("button", name=save).click()
        expect(page.get_by_text("Settings saved.")).to_be_visible()
        page.wait_for_timeout(800)
        page.get_by_text("Analytics", exact=True).click()
        expect(page).to_have_url(f"{live_app.url}/analytics")
        assert asked == ["beforeunload"]  # no second question once saved
