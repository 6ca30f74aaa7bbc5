"""Connecting a messaging platform from the Channels page (NiceGUI's User; the Bot API is a stand-in on 127.0.0.1):
the token is checked, the webhook set, the secrets shown only masked, Telegram's view of the webhook shown, and
Disconnect removes it."""

import json
from pathlib import Path

import pytest
from nicegui import app
from nicegui.testing import User
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database
from tests.builder.helpers import seed_demo, text_of

TOKEN = "7012345678:AAHfake-token_for-the-page-987654"


@pytest.fixture
def telegram_api(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict]]:
    calls: list[tuple[str, dict]] = []

    def bot_api(request: Request) -> Response:
        method = request.path.rsplit("/", 1)[1]
        body = json.loads(request.get_data() or b"{}")
        calls.append((method, body))
        if not request.path.startswith(f"/bot{TOKEN}/"):
            return Response(json.dumps({"ok": False, "error_code": 401, "description": "Unauthorized"}), 401,
                            content_type="application/json")
        result = {"getMe": {"id": 7012345678, "is_bot": True, "first_name": "Page test", "username": "page_test_bot"},
                  "getWebhookInfo": {"url": "https://example.org/hooks/telegram", "pending_update_count": 3,
                                     "last_error_message": "Wrong response from the webhook: 502 Bad Gateway"},
                  }.get(method, True)
        return Response(json.dumps({"ok": True, "result": result}), content_type="application/json")

    httpserver.expect_request(f"/bot{TOKEN}/getMe").respond_with_handler(bot_api)
    httpserver.expect_request(f"/bot{TOKEN}/setWebhook").respond_with_handler(bot_api)
    httpserver.expect_request(f"/bot{TOKEN}/getWebhookInfo").respond_with_handler(bot_api)
    httpserver.expect_request(f"/bot{TOKEN}/deleteWebhook").respond_with_handler(bot_api)
    httpserver.expect_request(f"/bot{TOKEN}/sendMessage").respond_with_handler(lambda request: Response(json.dumps(
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}), 403,
        content_type="application/json"))
    httpserver.expect_request("/bot123:wrong-token-for-this-bot-xxxx/getMe").respond_with_handler(bot_api)
    monkeypatch.setenv("REFERFLOW_TELEGRAM_API_URL", httpserver.url_for("/").rstrip("/"))
    return calls


async def test_connect_telegram_from_the_page_and_disconnect_it(telegram_api, admin: User,
                                                                app_database: Database) -> None:
    await admin.open("/channels")
    assert text_of(admin, "state-telegram") == "Not connected"
    admin.find(marker="connect-telegram-token").type("not a token")
    admin.find(marker="connect-telegram").click()
    await admin.should_see("That is not a Telegram bot token")

    admin.find(marker="connect-telegram-token").clear().type("123:wrong-token-for-this-bot-xxxx")
    admin.find(marker="connect-telegram").click()
    await admin.should_see("The bot was not connected. Telegram: Unauthorized")

    admin.find(marker="connect-telegram-token").clear().type(TOKEN)
    admin.find(marker="connect-telegram").click()
    await admin.should_see("Connected @page_test_bot", retries=50)
    assert [method for method, _ in telegram_api if method != "getWebhookInfo"][-2:] == ["getMe", "setWebhook"]
    hook = next(body for method, body in telegram_api if method == "setWebhook")
    assert hook["url"].endswith("/hooks/telegram")
    assert text_of(admin, "connection-telegram-token") == "••••7654"
    assert text_of(admin, "connection-telegram-username") == "page_test_bot"
    await admin.should_not_see(TOKEN)
    await admin.should_not_see(hook["secret_token"])

    await admin.open("/channels")  # as it stands afterwards
    assert text_of(admin, "state-telegram") == "Connected"
    await admin.should_see(marker="platform-telegram-pending-updates", retries=50)
    assert text_of(admin, "platform-telegram-pending-updates") == "3"
    assert text_of(admin, "platform-telegram-telegram's-last-webhook-error") == (
        "Wrong response from the webhook: 502 Bad Gateway")
    await admin.should_not_see(TOKEN)
    with app_database.raw_connection() as connection:
        assert connection.execute("SELECT telegram_bot FROM workspace_settings").fetchone() == ("page_test_bot",)

    # a refused message: Telegram's words on the page and the transcript
    seed_demo(Path(app_database.url.removeprefix("sqlite:///")))
    with Runtime(app_database, outbox=True, on_outbox=app.state.referflow_delivery.wake) as live:
        opened = live.open_link(Inbound(text="/start giveaway2025", channel="telegram", channel_user_id="555",
                                        first_name="Kim", event_id="1", bot="7012345678"))
    await admin.open("/channels")
    await admin.should_see("Telegram: Forbidden: bot was blocked by the user", retries=100)
    assert "not delivered" in text_of(admin, "last-error-telegram")
    await admin.open(f"/contacts/{opened.contact_id}")
    await admin.should_see("Not delivered: Telegram: Forbidden: bot was blocked by the user (1 attempt)")

    await admin.open("/channels")
    admin.find(marker="disconnect-telegram").click()
    admin.find(marker="confirm-disconnect-telegram").click()
    await admin.should_see(marker="connect-form-telegram", retries=50)
    assert telegram_api[-1][0] == "deleteWebhook"
    with app_database.raw_connection() as connection:
        assert connection.execute("SELECT count(*) FROM channel_connection").fetchone() == (0,)
