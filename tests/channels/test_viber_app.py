"""Viber over real HTTP: the app in a subprocess receives callbacks at /hooks/viber and answers through a stand-in
Viber REST Bot API on 127.0.0.1 that checks every call as https://developers.viber.com/docs/api/rest-bot-api/ says."""

import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.channels.hooks_app import RunningApp, StandIn, json_of, running_hooks_app, wait_until

AUTH_TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"
BOT = {"status": 0, "status_message": "ok", "id": "pa:75346594275468546724", "name": "Referflow Viber test",
       "uri": "referflowtest", "webhook": ""}


@pytest.fixture(scope="module")
def viber() -> Iterator[tuple[HTTPServer, StandIn]]:
    server = HTTPServer(host="127.0.0.1", threaded=True)
    stand_in = StandIn()
    for method in ("get_account_info", "set_webhook", "send_message"):
        server.expect_request(f"/pa/{method}", method="POST").respond_with_handler(
            lambda request, method=method: _viber_api(request, method, stand_in))
    server.start()
    yield server, stand_in
    server.clear()
    if server.is_running():
        server.stop()


@pytest.fixture(scope="module")
def app(viber, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    server, _ = viber
    with running_hooks_app(tmp_path_factory.mktemp("viber-app"),
                           {"REFERFLOW_VIBER_API_URL": server.url_for("/pa")}) as running:
        connected = running.cli("channels", "connect", "viber", "--auth-token", AUTH_TOKEN)
        assert connected.returncode == 0, connected.stderr
        yield running


def _viber_api(request: Request, method: str, stand_in: StandIn) -> Response:
    body = json_of(request)
    stand_in.record(method, body, dict(request.headers))
    if request.headers.get("X-Viber-Auth-Token") != AUTH_TOKEN:
        return _status(2, "invalidAuthToken")
    if method == "get_account_info":
        return Response(json.dumps(BOT), content_type="application/json")
    if method == "set_webhook":
        if body.get("url"):  # Viber checks the address at once with a signed `webhook` callback
            check = json.dumps({"event": "webhook", "timestamp": int(time.time() * 1000),
                                "chat_hostname": "SN-376_", "message_token": 5098034272017990000}).encode()
            answer = httpx.post(body["url"], content=check, headers={"X-Viber-Content-Signature": _sign(check)},
                                trust_env=False, timeout=5)
            if answer.status_code != 200:
                return _status(1, "invalidUrl")
        return _status(0, "ok")
    problem = _check_send_message(body)
    if problem:
        stand_in.problems.append(problem)
        return _status(3, problem)
    handler = stand_in.script.get(f"send_message:{body['receiver']}")
    if handler is not None and (scripted := handler(body)) is not None:
        return scripted
    return Response(json.dumps({"status": 0, "status_message": "ok", "message_token": 5741311803571721087,
                                "chat_hostname": "SN-CHAT-05_", "billing_status": 1}),
                    content_type="application/json")


def _check_send_message(body: dict) -> str:
    if not isinstance(body.get("receiver"), str) or not body["receiver"]:
        return "badData: receiver"
    sender = body.get("sender")
    if not isinstance(sender, dict) or not 1 <= len(sender.get("name", "")) <= 28:
        return "badData: sender.name"
    if body.get("type") != "text" or not isinstance(body.get("text"), str) or not body["text"]:
        return "badData: text"
    keyboard = body.get("keyboard")
    if keyboard is not None and (keyboard.get("Type") != "keyboard" or not all(
            b.get("ActionType") == "reply" and b.get("ActionBody") for b in keyboard.get("Buttons", []))):
        return "badData: keyboard"
    return ""


def _status(status: int, message: str) -> Response:
    return Response(json.dumps({"status": status, "status_message": message}), content_type="application/json")


def _sign(body: bytes, key: str = AUTH_TOKEN) -> str:
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


_TOKENS = iter(range(4_912_661_846_655_238_145, 4_912_661_846_665_238_145))


def _started(user_id: str, name: str, context: str, token: int | None = None) -> dict:
    return {"event": "conversation_started", "timestamp": int(time.time() * 1000),
            "message_token": next(_TOKENS) if token is None else token, "type": "open", "context": context,
            "user": {"id": user_id, "name": name, "avatar": "", "country": "UA", "language": "en",
                     "api_version": 8}, "subscribed": False}


def _message(user_id: str, name: str, text: str) -> dict:
    return {"event": "message", "timestamp": int(time.time() * 1000), "message_token": next(_TOKENS),
            "sender": {"id": user_id, "name": name, "api_version": 8}, "message": {"type": "text", "text": text}}


def _post(app: RunningApp, event: dict | bytes, signature: str | None = "sign") -> httpx.Response:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-Viber-Content-Signature"] = _sign(body) if signature == "sign" else signature
    return httpx.post(f"{app.url}/hooks/viber", content=body, headers=headers, trust_env=False, timeout=10)


# ------------------------------------------------------------------------------------------------------- tests


def test_connecting_sets_the_webhook_which_viber_checks_with_a_signed_callback(app: RunningApp, viber) -> None:
    _, stand_in = viber
    hook = stand_in.sent("set_webhook")[-1]
    assert hook["url"] == f"{app.url}/hooks/viber" and "conversation_started" in hook["event_types"]
    status = next(item for item in json.loads(app.cli("channels", "status").stdout) if item["channel"] == "viber")
    assert status["connected"] and status["secrets"] == {"auth_token": "••••c51f"}
    raw = b"".join(path.read_bytes() for path in app.db_path.parent.glob("referflow.db*") if path.suffix != ".key")
    assert AUTH_TOKEN.encode() not in raw


def test_an_open_is_welcomed_in_the_http_answer_and_counted_once(app: RunningApp, viber) -> None:
    _, stand_in = viber
    event = _started("01234567890A=", "Ann", "giveaway2025")
    answer = _post(app, event)
    assert answer.status_code == 200
    welcome = answer.json()
    assert welcome["type"] == "text" and welcome["sender"] == {"name": "Referflow Viber test"}
    assert welcome["text"].startswith("Invite your friends with your personal link: viber://pa?chatURI=")
    assert "receiver" not in welcome
    assert app.query("SELECT count(*) FROM link_open o JOIN contact c ON c.id = o.contact_id"
                     " WHERE c.channel_user_id = '01234567890A='") == [(1,)]
    before = app.counts()
    again = _post(app, event)  # Viber retries: nothing changes and no second welcome
    assert again.status_code == 200 and again.content == b""
    time.sleep(1.0)
    assert app.counts() == before
    assert stand_in.sent("send_message", receiver="01234567890A=") == []


def test_a_friend_opening_anns_link_notifies_her_through_send_message(app: RunningApp, viber) -> None:
    _, stand_in = viber
    welcome = _post(app, _started("ann-viber-id==", "Ann", "giveaway2025")).json()["text"]
    ref = welcome.split("context=", 1)[1].split()[0]
    assert _post(app, _started("bob-viber-id==", "Bob", ref)).status_code == 200
    sent = stand_in.wait_for("send_message", count=2, receiver="ann-viber-id==")
    assert sent[0]["text"] == "Bob joined with your link!"
    assert all(body["min_api_version"] >= 1 and body["sender"]["name"] for body in sent)
    assert not stand_in.problems


def test_a_wrong_or_missing_signature_is_refused_and_changes_nothing(app: RunningApp) -> None:
    before = app.counts()
    event = json.dumps(_started("mallory=", "Mallory", "giveaway2025")).encode()
    assert _post(app, event, signature=None).status_code == 401
    assert _post(app, event, signature=_sign(event, "another-token")).status_code == 403
    assert _post(app, event + b" ", signature=_sign(event)).status_code == 403  # the body was changed
    assert app.counts() == before


def test_a_reply_is_answered_once_and_a_malformed_callback_gets_400(app: RunningApp, viber) -> None:
    _, stand_in = viber
    assert _post(app, _started("cat-viber-id==", "Cat", "giveaway2025")).status_code == 200
    reply = _message("cat-viber-id==", "Cat", "hello there")
    assert _post(app, reply).status_code == 200
    first = stand_in.wait_for("send_message", receiver="cat-viber-id==")
    assert first[0]["text"] == "Hi Cat! How can I help?"
    before = app.counts()
    assert _post(app, reply).status_code == 200
    for body in (b"not json", b'{"no": "event"}', json.dumps({"event": "message", "message_token": 1}).encode()):
        assert _post(app, body).status_code == 400
    time.sleep(1.0)
    assert app.counts() == before
    assert len(stand_in.sent("send_message", receiver="cat-viber-id==")) == 1


def test_a_refused_message_is_marked_failed_in_vibers_words(app: RunningApp, viber) -> None:
    _, stand_in = viber
    stand_in.script["send_message:dan-viber-id=="] = lambda body: _status(6, "receiverNotSubscribed")
    assert _post(app, _started("dan-viber-id==", "Dan", "giveaway2025")).status_code == 200
    assert _post(app, _message("dan-viber-id==", "Dan", "anyone?")).status_code == 200
    rows = wait_until(lambda: app.query(
        "SELECT o.state, o.last_error FROM outbox_message o JOIN contact c ON c.id = o.contact_id"
        " WHERE c.channel_user_id = 'dan-viber-id==' AND o.state = 'failed'"))
    assert rows == [("failed", "Viber: receiverNotSubscribed")]
