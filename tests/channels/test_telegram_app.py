"""Telegram over real HTTP: the app in a subprocess receives webhook updates at /hooks/telegram and answers through a
stand-in Bot API on 127.0.0.1 that checks every call as https://core.telegram.org/bots/api describes it."""

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.channels.hooks_app import RunningApp, StandIn, json_of, running_hooks_app, wait_until

TOKEN = "7012345678:AAHfake-token_for-the-stand-in-0123456"
BOT_ID = 7012345678
USERNAME = "referflow_test_bot"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


@pytest.fixture(scope="module")
def telegram() -> Iterator[tuple[HTTPServer, StandIn]]:
    server = HTTPServer(host="127.0.0.1", threaded=True)
    stand_in = StandIn()
    server.expect_request(re.compile(r"^/bot[^/]+/\w+$"), method="POST").respond_with_handler(
        lambda request: _bot_api(request, stand_in))
    server.start()
    yield server, stand_in
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture(scope="module")
def app(telegram, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    server, _ = telegram
    with running_hooks_app(tmp_path_factory.mktemp("telegram-app"),
                           {"REFERFLOW_TELEGRAM_API_URL": server.url_for("/").rstrip("/")}) as running:
        imported = running.cli("import", str(FIXTURES / "test_webchat_workspace.json"))  # a flow with buttons
        assert imported.returncode == 0, imported.stderr
        connected = running.cli("channels", "connect", "telegram", stdin=TOKEN + "\n")
        assert connected.returncode == 0, connected.stderr  # the app delivers through it within 5 s
        yield running


def _bot_api(request: Request, stand_in: StandIn) -> Response:
    token, method = re.fullmatch(r"/bot([^/]+)/(\w+)", request.path).groups()
    body = json_of(request)
    stand_in.record(method, body, dict(request.headers))
    if token != TOKEN:
        return _refuse(401, "Unauthorized")
    if not request.content_type or not request.content_type.startswith("application/json"):
        stand_in.problems.append(f"{method} without a JSON body")
    if method == "getMe":
        return _answer({"id": BOT_ID, "is_bot": True, "first_name": "Referflow test", "username": USERNAME})
    if method == "setWebhook":
        if not SECRET_TOKEN.fullmatch(body.get("secret_token", "")) or not body.get("url", "").endswith(
                "/hooks/telegram"):
            stand_in.problems.append(f"setWebhook {body}")
        return _answer(True)
    if method == "getWebhookInfo":
        hooks = stand_in.sent("setWebhook")
        return _answer({"url": hooks[-1]["url"] if hooks else "", "has_custom_certificate": False,
                        "pending_update_count": 2, "last_error_message": "Connection timed out"})
    if method == "answerCallbackQuery":
        return _answer(True)
    if method == "sendMessage":
        problem = _check_send_message(body)
        if problem:
            stand_in.problems.append(problem)
            return _refuse(400, f"Bad Request: {problem}")
        handler = stand_in.script.get(f"sendMessage:{body['chat_id']}")
        if handler is not None and (scripted := handler(body)) is not None:
            return scripted
        return _answer({"message_id": len(stand_in.calls), "chat": {"id": body["chat_id"], "type": "private"},
                        "date": int(time.time()), "text": body["text"]})
    stand_in.problems.append(f"unexpected method {method}")
    return _refuse(404, "Not Found")


def _check_send_message(body: dict) -> str:
    if not isinstance(body.get("chat_id"), int):
        return "chat_id must be an integer"
    if not isinstance(body.get("text"), str) or not 1 <= len(body["text"]) <= 4096:
        return "text must be 1-4096 characters"
    markup = body.get("reply_markup")
    if markup is not None:
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list) or not rows:
            return "reply_markup must be an inline keyboard"
        for row in rows:
            for button in row:
                data = button.get("callback_data", "")
                if not button.get("text") or not 1 <= len(data.encode()) <= 64:
                    return "BUTTON_DATA_INVALID"
    return ""


def _answer(result: object) -> Response:
    return Response(json.dumps({"ok": True, "result": result}), content_type="application/json")


def _refuse(status: int, description: str) -> Response:
    return Response(json.dumps({"ok": False, "error_code": status, "description": description}), status=status,
                    content_type="application/json")


def _secret(stand_in: StandIn) -> str:
    return stand_in.sent("setWebhook")[-1]["secret_token"]


_UPDATES = iter(range(500_000, 10_000_000))


def _update(user_id: int, text: str, first_name: str, update_id: int | None = None) -> dict:
    return {"update_id": next(_UPDATES) if update_id is None else update_id, "message": {
        "message_id": 1, "date": int(time.time()), "text": text, "chat": {"id": user_id, "type": "private",
                                                                          "first_name": first_name},
        "from": {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}}}


def _post(app: RunningApp, update: dict | bytes, secret: str | None) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = update if isinstance(update, bytes) else json.dumps(update).encode()
    return httpx.post(f"{app.url}/hooks/telegram", content=body, headers=headers, trust_env=False, timeout=10)


def _texts(stand_in: StandIn, chat_id: int) -> list[str]:
    return [body["text"] for body in stand_in.sent("sendMessage", chat_id=chat_id)
            if not body.get("_failed")]


# ------------------------------------------------------------------------------------------------------- tests


def test_connecting_checks_the_token_sets_a_secret_webhook_and_fills_the_username(
        app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    hook = stand_in.sent("setWebhook")[-1]
    assert hook["url"] == f"{app.url}/hooks/telegram" and hook["allowed_updates"] == ["message", "callback_query"]
    assert app.query("SELECT telegram_bot FROM workspace_settings") == [(USERNAME,)]
    status = json.loads(app.cli("channels", "status").stdout)
    telegram_status = next(item for item in status if item["channel"] == "telegram")
    assert telegram_status["connected"] and telegram_status["settings"]["username"] == USERNAME
    assert telegram_status["secrets"] == {"token": "••••3456", "webhook_secret": "••••" + _secret(stand_in)[-4:]}
    assert telegram_status["platform"] == {"Webhook": f"{app.url}/hooks/telegram", "Pending updates": "2",
                                           "Telegram's last webhook error": "Connection timed out"}
    assert not stand_in.problems


def test_secrets_are_encrypted_in_the_database_file_and_absent_from_exports(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    secret = _secret(stand_in)
    raw = b"".join(path.read_bytes() for path in app.db_path.parent.glob("referflow.db*") if path.suffix != ".key")
    assert TOKEN.encode() not in raw and secret.encode() not in raw
    assert app.query("SELECT count(*) FROM channel_connection WHERE channel = 'telegram'") == [(1,)]
    exported = app.cli("export")
    assert exported.returncode == 0 and TOKEN not in exported.stdout and secret not in exported.stdout
    assert TOKEN not in app.log_path.read_text() and secret not in app.log_path.read_text()
    key = app.db_path.with_name("referflow.db.key")
    assert key.stat().st_mode & 0o777 == 0o600


def test_ann_brings_three_friends_over_telegram_and_gets_the_coupon(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    secret = _secret(stand_in)
    assert _post(app, _update(1001, "/start giveaway2025", "Ann"), secret).status_code == 200
    invite = stand_in.wait_for("sendMessage", chat_id=1001)[0]["text"]
    link = re.search(r"https://t\.me/\S+", invite).group(0)
    assert link.startswith(f"https://t.me/{USERNAME}?start=giveaway2025-c")
    ref = link.split("start=", 1)[1]
    (ann_id,) = app.query("SELECT id FROM contact WHERE channel = 'telegram' AND channel_user_id = '1001'")[0]
    assert ref == f"giveaway2025-c{ann_id}"
    for user_id, name in ((1002, "Bob"), (1003, "Cat"), (1004, "Dan")):
        assert _post(app, _update(user_id, f"/start {ref}", name), secret).status_code == 200
        assert stand_in.wait_for("sendMessage", chat_id=user_id)[0]["text"].startswith(
            "Invite your friends with your personal link: ")
    texts = [body["text"] for body in stand_in.wait_for("sendMessage", count=7, chat_id=1001)]
    assert "Bob joined with your link!" in texts and "1 of 3 friends joined so far: 2 more to go." in " ".join(texts)
    assert "Dan joined with your link!" in texts
    assert texts[-1].startswith("You did it, Ann! Three friends joined. Your coupon: ")
    assert app.query("SELECT count(*) FROM referral WHERE referrer_id = ? AND status = 'counted'", ann_id) == [(3,)]
    points = app.query("SELECT v.value FROM field_value v JOIN custom_field f ON f.id = v.field_id"
                       " WHERE v.contact_id = ? AND f.name = 'referral_points'", ann_id)
    assert json.loads(points[0][0]) == 3
    assert not stand_in.problems


def test_a_wrong_missing_or_stale_secret_is_refused_and_changes_nothing(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    before = app.counts()
    assert _post(app, _update(1101, "/start giveaway2025", "Eve"), None).status_code == 401
    assert _post(app, _update(1101, "/start giveaway2025", "Eve"), "not-the-secret").status_code == 403
    stale = _secret(stand_in)
    reconnected = app.cli("channels", "connect", "telegram", "--token", TOKEN)
    assert reconnected.returncode == 0, reconnected.stderr
    assert _secret(stand_in) != stale
    assert _post(app, _update(1101, "/start giveaway2025", "Eve"), stale).status_code == 403
    assert app.counts() == before
    assert stand_in.sent("sendMessage", chat_id=1101) == []


def test_a_replayed_update_changes_nothing(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    secret = _secret(stand_in)
    update = _update(1201, "/start hello", "Fay")
    assert _post(app, update, secret).status_code == 200
    stand_in.wait_for("sendMessage", chat_id=1201)
    before = app.counts()
    assert _post(app, update, secret).status_code == 200
    time.sleep(1.5)  # a second delivery would reach the stand-in well within this
    assert app.counts() == before
    assert len(stand_in.sent("sendMessage", chat_id=1201)) == 1


def test_buttons_are_an_inline_keyboard_and_a_press_answers_them_once(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    secret = _secret(stand_in)
    assert _post(app, _update(1301, "/start hello", "Gus"), secret).status_code == 200
    menu = stand_in.wait_for("sendMessage", chat_id=1301)[0]
    assert menu["text"] == "Hi Gus! Ready for a question?"
    keyboard = menu["reply_markup"]["inline_keyboard"]
    assert [[button["text"] for button in row] for row in keyboard] == [["Yes"], ["No"]]
    yes = keyboard[0][0]["callback_data"]
    press = {"update_id": next(_UPDATES), "callback_query": {
        "id": "4382bfdwdsb323b2d9", "chat_instance": "-1", "data": yes,
        "from": {"id": 1301, "is_bot": False, "first_name": "Gus"},
        "message": {"message_id": 9, "date": int(time.time()), "chat": {"id": 1301, "type": "private"},
                    "text": menu["text"], "reply_markup": menu["reply_markup"]}}}
    assert _post(app, press, secret).status_code == 200
    assert stand_in.wait_for("sendMessage", count=2, chat_id=1301)[1]["text"] == "How old are you?"
    assert stand_in.wait_for("answerCallbackQuery", callback_query_id="4382bfdwdsb323b2d9")
    assert _post(app, press, secret).status_code == 200  # Telegram redelivers: nothing more happens
    assert _post(app, _update(1301, "30", "Gus"), secret).status_code == 200
    assert stand_in.wait_for("sendMessage", count=3, chat_id=1301)[2]["text"] == "Thanks, Gus! You are 30."
    later = stand_in.wait_for("sendMessage", count=4, chat_id=1301)[3]  # the flow's 1 s delay fires by itself
    assert later["text"] == "A moment later, Gus: still there?"
    time.sleep(1.0)
    assert [body["text"] for body in stand_in.sent("sendMessage", chat_id=1301)] == [
        "Hi Gus! Ready for a question?", "How old are you?", "Thanks, Gus! You are 30.",
        "A moment later, Gus: still there?"]
    assert not stand_in.problems


@pytest.mark.parametrize("body", [
    b"this is not json",
    b'["an", "array"]',
    b'{"update_id": "12"}',
    b'{"update_id": 12, "message": {"text": "/start giveaway2025", "chat": {"id": 5}}}',
    b'{"update_id": 13, "callback_query": {"data": "0:Yes"}}',
])
def test_a_malformed_update_gets_400_and_nothing_is_stored(app: RunningApp, telegram, body: bytes) -> None:
    _, stand_in = telegram
    before = app.counts()
    answer = _post(app, body, _secret(stand_in))
    assert answer.status_code == 400 and answer.text.startswith("Bad Request")
    assert "set-cookie" not in answer.headers  # answered before the admin app: no session for webhook callers
    assert app.counts() == before


def test_an_oversized_body_is_refused_before_it_is_read(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    answer = _post(app, b"{" + b" " * 2_000_000 + b"}", _secret(stand_in))
    assert answer.status_code == 413


def test_a_temporary_failure_is_retried_and_the_message_sent_once(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    failures = {"left": 2}

    def flaky(body: dict) -> Response | None:
        if failures["left"] == 2:
            failures["left"] -= 1
            return _refuse(500, "Internal Server Error")
        if failures["left"] == 1:
            failures["left"] -= 1
            time.sleep(1.6)  # longer than REFERFLOW_API_TIMEOUT=1: the app gives up and retries
            body["_failed"] = True
            return _refuse(502, "too late")
        return None

    stand_in.script["sendMessage:1401"] = flaky
    assert _post(app, _update(1401, "/start giveaway2025", "Hal"), _secret(stand_in)).status_code == 200
    wait_until(lambda: app.query("SELECT state FROM outbox_message o JOIN contact c ON c.id = o.contact_id"
                                 " WHERE c.channel_user_id = '1401'") == [("sent",)], timeout=30)
    attempts = stand_in.sent("sendMessage", chat_id=1401)
    assert len(attempts) == 3 and len(_texts(stand_in, 1401)) == 2  # 500, a timeout, then sent
    assert app.query("SELECT o.attempts FROM outbox_message o JOIN contact c ON c.id = o.contact_id"
                     " WHERE c.channel_user_id = '1401'") == [(3,)]


def test_a_permanent_failure_is_marked_failed_in_telegrams_words(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    stand_in.script["sendMessage:1501"] = lambda body: _refuse(403, "Forbidden: bot was blocked by the user")
    assert _post(app, _update(1501, "/start giveaway2025", "Ida"), _secret(stand_in)).status_code == 200
    rows = wait_until(lambda: app.query(
        "SELECT o.state, o.last_error, o.attempts FROM outbox_message o JOIN contact c ON c.id = o.contact_id"
        " WHERE c.channel_user_id = '1501' AND o.state = 'failed'"))
    assert rows == [("failed", "Telegram: Forbidden: bot was blocked by the user", 1)]
    assert len(stand_in.sent("sendMessage", chat_id=1501)) == 1  # not retried


def test_disconnecting_removes_the_webhook_and_the_secrets(app: RunningApp, telegram) -> None:
    _, stand_in = telegram
    secret = _secret(stand_in)
    result = app.cli("channels", "disconnect", "telegram")
    assert result.returncode == 0, result.stderr
    assert stand_in.sent("deleteWebhook")
    assert app.query("SELECT count(*) FROM channel_connection") == [(0,)]
    before = app.counts()
    assert _post(app, _update(1601, "/start giveaway2025", "Joe"), secret).status_code == 403
    assert app.counts() == before
    again = app.cli("channels", "disconnect", "telegram")
    assert again.returncode == 2 and "telegram was not connected" in again.stderr
