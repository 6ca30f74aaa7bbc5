import pytest
from nicegui import ui
from nicegui.testing import User

from tests.helpers import ADMIN_PASSWORD


@pytest.mark.parametrize("path", ["/", "/settings"])
async def test_pages_send_strangers_to_the_login(app_env, user: User, path: str) -> None:
    await user.open(path)
    await user.should_see("Sign in to manage your bot.", retries=50)
    await user.should_not_see(marker="navigation")


async def test_wrong_password_is_refused_then_rate_limited(app_env, user: User) -> None:
    await user.open("/login")
    for left in (4, 3, 2, 1):
        user.find(marker="password").type("wrong password")
        user.find(marker="sign-in").click()
        await user.should_see(f"That password is not right. {left} tr", retries=50)
    user.find(marker="password").type("wrong password")
    user.find(marker="sign-in").click()
    await user.should_see("0 tries left before a 10-minute pause.", retries=50)
    user.find(marker="password").type(ADMIN_PASSWORD)
    user.find(marker="sign-in").click()
    await user.should_see("Too many wrong passwords. Try again in 10 minutes.", retries=50)
    await user.should_not_see(marker="navigation")


async def test_sign_in_then_log_out(admin: User) -> None:
    await admin.should_see("Overview", retries=50)
    admin.find(marker="logout").click()
    await admin.should_see("Sign in to manage your bot.", retries=50)
    await admin.open("/settings")
    await admin.should_see("Sign in to manage your bot.", retries=50)


@pytest.fixture
def first_start_env(app_env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REFERFLOW_ADMIN_PASSWORD")


async def test_first_start_asks_for_a_password(first_start_env, user: User) -> None:
    await user.open("/settings")
    await user.should_see("Choose the admin password", retries=50)
    user.find(marker="new-password").type("short")
    user.find(marker="confirm-password").type("short")
    user.find(marker="create-password").click()
    await user.should_see("Use at least 8 characters.", retries=50)
    user.find(marker="new-password").clear().type("a-long-password")
    user.find(marker="confirm-password").clear().type("a-long-passw0rd")
    user.find(marker="create-password").click()
    await user.should_see("The two passwords are not the same.", retries=50)
    user.find(marker="confirm-password").clear().type("a-long-password")
    user.find(marker="create-password").click()
    await user.should_see("Bot name", retries=50)  # landed on the page asked for, /settings


async def test_settings_save_and_keep_bad_input_with_a_reason(admin: User) -> None:
    await admin.open("/settings")
    admin.find(marker="bot_name").clear().type("Giveaway bot")
    admin.find(marker="telegram_bot").type("shop_helper")
    admin.find(marker="save-settings").click()
    await admin.should_see("Nothing was saved: fix the fields marked in red.", retries=50)
    assert admin.find(marker="telegram_bot").elements.pop().value == "shop_helper"  # what the admin typed stays
    admin.find(marker="telegram_bot").clear().type("@shop_helper_bot")
    admin.find(marker="whatsapp_number").type("+1 (555) 123-4567")
    admin.find(marker="save-settings").click()
    await admin.should_see("Settings saved.", retries=50)
    await admin.open("/settings")
    assert admin.find(marker="telegram_bot").elements.pop().value == "shop_helper_bot"
    assert admin.find(marker="whatsapp_number").elements.pop().value == "15551234567"
    await admin.should_see("Giveaway bot", retries=50)


async def test_the_header_shows_the_new_bot_name_as_soon_as_it_is_saved(admin: User) -> None:
    await admin.open("/settings")
    admin.find(marker="bot_name").clear().type("Spring sale bot")
    admin.find(marker="save-settings").click()
    await admin.should_see("Settings saved.", retries=50)
    await admin.should_see(kind=ui.label, marker="bot-name", content="Spring sale bot")  # no reload
