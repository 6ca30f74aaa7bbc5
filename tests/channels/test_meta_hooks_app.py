"""Messenger, Instagram and WhatsApp over real HTTP: the app (`app.py serve` in a subprocess) receives Meta's signed
webhooks and sends through a stand-in Graph API on 127.0.0.1 that checks every request as Meta documents it."""

import copy
import hashlib
import hmac
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.fernet import Fernet
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from channels.meta import webhook_message, webhook_open
from storage.channel_connections import save_connection
from storage.db import open_database
from storage.secrets import SecretBox
from tests.helpers import ADMIN_PASSWORD, DEMO_WORKSPACE, ROOT, running_app, subprocess_env

KEY = Fernet.generate_key().decode()
BOTS = {  # channel -> (page / Instagram account / phone-number id, access token, app secret)
    "messenger": ("1234567890", "EAAGpage" + "m" * 40, "a1" * 16),
    "instagram": ("17841400000000", "EAAGinsta" + "i" * 40, "b2" * 16),
    "whatsapp": ("106540352242922", "EAAGwa" + "w" * 40, "c3" * 16),
}
VERIFY = {channel: f"verify-{channel}-token" for channel in BOTS}
CHANNEL_OF = {bot: channel for channel, (bot, _, _) in BOTS.items()}
QUIZ = {"id": 3, "name": "Quiz", **{copy_: {
    "schema": 1,
    "nodes": [{"id": "start", "type": "start", "position": {"x": 0, "y": 0}, "data": {}},
              {"id": "ask", "type": "send_message", "position": {"x": 100, "y": 0},
               "data": {"text": "Do you like prizes?", "buttons": [{"id": "yes", "title": "Yes"},
                                                                   {"id": "no", "title": "No"}]}},
              {"id": "glad", "type": "send_message", "position": {"x": 200, "y": 0}, "data": {"text": "Great!"}},
              {"id": "sad", "type": "send_message", "position": {"x": 200, "y": 100}, "data": {"text": "Oh well."}}],
    "edges": [{"id": "e1", "source": "start", "source_handle": "next", "target": "ask"},
              {"id": "e2", "source": "ask", "source_handle": "yes", "target": "glad"},
              {"id": "e3", "source": "ask", "source_handle": "no", "target": "sad"}],
} for copy_ in ("draft", "published")}}


class GraphStandIn:
    """`POST /v21.0/{id}/messages` as Meta documents it. Requests that break the documentation are answered with a
    Graph error and listed in `problems`; `script[recipient]` holds answers to give instead of success, in order."""

    def __init__(self, server: HTTPServer) -> None:
        self.sent: list[tuple[str, dict]] = []
        self.problems: list[str] = []
        self.script: dict[str, list] = {}
        self.attempts: dict[str, int] = {}
        self.profiles: dict[str, str] = {}  # PSID or IGSID -> the person's name
        self.lock = threading.Lock()
        self.url = server.url_for("/v21.0")
        server.expect_request(re.compile(r"^/v21\.0/\d+/messages$"), method="POST").respond_with_handler(self.send)
        server.expect_request(re.compile(r"^/v21\.0/\d+$"), method="GET").respond_with_handler(self.profile)

    def profile(self, request: Request) -> Response:
        """The User Profile API (Messenger: first_name, last_name; Instagram: name, username)."""
        user = request.path.split("/")[2]
        tokens = {f"Bearer {token}" for _, token, _ in BOTS.values()}
        if request.headers.get("Authorization") not in tokens or user not in self.profiles:
            return _graph_error(400, 100, f"(#100) Object with ID '{user}' does not exist")
        first, _, last = self.profiles[user].partition(" ")
        fields = request.args.get("fields", "")
        answer = {"first_name": first, "last_name": last} if "first_name" in fields else {
            "name": self.profiles[user], "username": first.lower()}
        return Response(json.dumps({"id": user, **answer}), content_type="application/json")

    def send(self, request: Request) -> Response:
        bot = request.path.split("/")[2]
        channel = CHANNEL_OF.get(bot)
        try:
            body = json.loads(request.get_data())
        except ValueError:
            body = None
        problems = check_request(channel, bot, request, body)
        recipient = _recipient(channel, body)
        with self.lock:
            self.attempts[recipient] = self.attempts.get(recipient, 0) + 1
            if problems:
                self.problems += problems
                return _graph_error(400, 100, "; ".join(problems))
            scripted = self.script.get(recipient, [])
            answer = scripted.pop(0) if scripted else None
        if answer == "timeout":
            time.sleep(11)  # longer than the app's 10 s per call: the app gives up first
            return _graph_error(500, 2, "too late")
        if answer is not None:
            return _graph_error(*answer)
        with self.lock:
            self.sent.append((channel, body))
        if channel == "whatsapp":
            return Response(json.dumps({"messaging_product": "whatsapp", "contacts": [
                {"input": recipient, "wa_id": recipient}], "messages": [{"id": f"wamid.{len(self.sent)}"}]}),
                content_type="application/json")
        return Response(json.dumps({"recipient_id": recipient, "message_id": f"m_{len(self.sent)}"}),
                        content_type="application/json")

    def texts_to(self, recipient: str) -> list[str]:
        with self.lock:
            return [_text_of(channel, body) for channel, body in self.sent if _recipient(channel, body) == recipient]

    def bodies_to(self, recipient: str) -> list[dict]:
        with self.lock:
            return [body for channel, body in self.sent if _recipient(channel, body) == recipient]


def check_request(channel: str | None, bot: str, request: Request, body: object) -> list[str]:
    if channel is None:
        return [f"no connected account has the id {bot}"]
    token = BOTS[channel][1]
    problems = []
    if request.headers.get("Authorization") != f"Bearer {token}":
        problems.append("the access token is not in the Authorization header")
    if "access_token" in request.args:
        problems.append("the access token is in the address")
    if not request.headers.get("Content-Type", "").startswith("application/json"):
        problems.append("the body is not JSON")
    if not isinstance(body, dict):
        return [*problems, "the body is not a JSON object"]
    return problems + (_check_whatsapp(body) if channel == "whatsapp" else _check_send_api(body))


def _check_send_api(body: dict) -> list[str]:
    problems = []
    if not isinstance(body.get("recipient"), dict) or not str(body["recipient"].get("id", "")).isdigit():
        problems.append("recipient.id is missing")
    if body.get("messaging_type") != "RESPONSE":
        problems.append("messaging_type is not RESPONSE")
    message = body.get("message") or {}
    if ("text" in message) == ("attachment" in message):
        problems.append("message needs exactly one of text and attachment")
    if len(message.get("text", "")) > 2000:
        problems.append("text is longer than 2,000 characters")
    for quick in message.get("quick_replies", []):
        if quick.get("content_type") != "text" or not 0 < len(quick.get("title", "")) <= 20 or not quick.get("payload"):
            problems.append(f"bad quick reply {quick}")
    if len(message.get("quick_replies", [])) > 13:
        problems.append("more than 13 quick replies")
    if "attachment" in message:
        payload = message["attachment"].get("payload", {})
        buttons = payload.get("buttons", [])
        if message["attachment"].get("type") != "template" or payload.get("template_type") != "button":
            problems.append("the attachment is not a button template")
        if not 0 < len(payload.get("text", "")) <= 640 or not 1 <= len(buttons) <= 3:
            problems.append("a button template has 1-3 buttons and 1-640 characters of text")
        for button in buttons:
            if button.get("type") != "postback" or not 0 < len(button.get("title", "")) <= 20 \
                    or not button.get("payload"):
                problems.append(f"bad postback button {button}")
    return problems


def _check_whatsapp(body: dict) -> list[str]:
    problems = []
    if body.get("messaging_product") != "whatsapp":
        problems.append("messaging_product is not whatsapp")
    if not str(body.get("to", "")).isdigit():
        problems.append("to is not a WhatsApp id")
    if body.get("type") == "text":
        if not 0 < len(body.get("text", {}).get("body", "")) <= 4096:
            problems.append("text.body needs 1-4,096 characters")
    elif body.get("type") == "interactive":
        interactive = body.get("interactive", {})
        if not 0 < len(interactive.get("body", {}).get("text", "")) <= 1024:
            problems.append("interactive body.text needs 1-1,024 characters")
        if interactive.get("type") == "button":
            buttons = interactive.get("action", {}).get("buttons", [])
            ids = [b.get("reply", {}).get("id") for b in buttons]
            if not 1 <= len(buttons) <= 3 or len(set(ids)) != len(ids) or any(
                    b.get("type") != "reply" or not 0 < len(b["reply"].get("title", "")) <= 20 for b in buttons):
                problems.append("reply buttons: 1-3, unique ids, titles of 1-20 characters")
        elif interactive.get("type") != "list":
            problems.append("unknown interactive type")
    else:
        problems.append(f"unknown type {body.get('type')}")
    return problems


def _recipient(channel: str | None, body: object) -> str:
    if not isinstance(body, dict):
        return ""
    return str(body.get("to", "")) if channel == "whatsapp" else str((body.get("recipient") or {}).get("id", ""))


def _text_of(channel: str, body: dict) -> str:
    if channel == "whatsapp":
        return body["text"]["body"] if body["type"] == "text" else body["interactive"]["body"]["text"]
    message = body["message"]
    return message.get("text") or message["attachment"]["payload"]["text"]


def _graph_error(status: int, code: int, message: str) -> Response:
    return Response(json.dumps({"error": {"message": message, "type": "OAuthException", "code": code,
                                          "fbtrace_id": "AbCdEf"}}), status=status, content_type="application/json")


@pytest.fixture(scope="module")
def graph() -> Iterator[GraphStandIn]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield GraphStandIn(server)
    finally:
        server.clear()
        server.stop()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, graph: GraphStandIn) -> Iterator["App"]:
    folder = tmp_path_factory.mktemp("meta-hooks")
    workspace = json.loads(DEMO_WORKSPACE.read_text())
    workspace["settings"].update(page_id=BOTS["messenger"][0], whatsapp_number="15550001111")
    workspace["flows"].append(copy.deepcopy(QUIZ))
    workspace["entry_points"] += [
        {"id": 2, "name": "Quiz", "ref": "quiz", "active": True, "response_type": "flow", "response_flow_id": 3},
        {"id": 3, "name": "Recommended", "ref": "recommended", "active": True, "response_type": "message",
         "response_message": "Welcome, friend of a friend!", "referrals_enabled": True, "referrer_match": "phone",
         "whatsapp_pattern": r"You were recommended by (?P<referrer>\+?\d{7,15})"}]
    (folder / "workspace.json").write_text(json.dumps(workspace))
    database_file = folder / "referflow.db"
    env = subprocess_env(REFERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, REFERFLOW_STORAGE_SECRET="test",
                  REFERFLOW_SEED_DEMO="0", REFERFLOW_SECRET_KEY=KEY, REFERFLOW_META_GRAPH_URL=graph.url)
    subprocess.run([sys.executable, str(ROOT / "app.py"), "--db", str(database_file), "import",
                    str(folder / "workspace.json")], cwd=ROOT, env=env, check=True, capture_output=True)
    database = open_database(url=f"sqlite:///{database_file}")
    box = SecretBox(Fernet(KEY.encode()))
    for channel, (bot, token, secret) in BOTS.items():
        save_connection(database=database, box=box, channel=channel, bot_id=bot, settings={"bot_id": bot},
                        secrets={"access_token": token, "app_secret": secret}, verify_token=VERIFY[channel])
    try:
        with running_app(env=env, log_path=folder / "server.log", db=database_file) as running:
            yield App(running.url, database, graph)
    finally:
        database.dispose()


class App:
    def __init__(self, url: str, database, graph: GraphStandIn) -> None:
        self.url, self.database, self.graph = url, database, graph
        self.clock = 1_764_600_000_000

    def post(self, channel: str, body: bytes, *, secret: str | None = None, header: str | None = None,
             signed: bool = True) -> httpx.Response:
        key = BOTS[channel][2] if secret is None else secret
        headers = {"Content-Type": "application/json"}
        if signed:
            headers["X-Hub-Signature-256"] = header or "sha256=" + hmac.new(key.encode(), body,
                                                                             hashlib.sha256).hexdigest()
        return httpx.post(f"{self.url}/hooks/{channel}", content=body, headers=headers, trust_env=False, timeout=10)

    def open(self, channel: str, user: str, ref: str, *, new: bool = True, event: str | None = None,
             name: str = "") -> bytes:
        """The webhook of `user` opening a link; Messenger and Instagram tell the name through the profile API."""
        self.clock += 1000
        if name:
            self.graph.profiles[user] = name
        return webhook_open(channel, bot=BOTS[channel][0], user_id=user, ref=ref, new_conversation=new,
                            event_id=event or f"ev-{user}-{self.clock}", timestamp=self.clock, first_name=name)

    def message(self, channel: str, user: str, text: str, *, button: str | None = None) -> bytes:
        self.clock += 1000
        return webhook_message(channel, bot=BOTS[channel][0], user_id=user, text=text, button=button,
                               event_id=f"msg-{user}-{self.clock}", timestamp=self.clock)

    def query(self, sql: str, *params) -> list[tuple]:
        with self.database.raw_connection() as connection:
            return connection.execute(sql, params).fetchall()

    def contact(self, channel: str, user: str) -> int | None:
        rows = self.query("SELECT id FROM contact WHERE channel = ? AND channel_user_id = ?", channel, user)
        return rows[0][0] if rows else None

    def counts(self) -> tuple:
        return self.query("SELECT (SELECT count(*) FROM contact), (SELECT count(*) FROM referral),"
                          " (SELECT count(*) FROM outbox_message), (SELECT count(*) FROM message)")[0]

    def wait_for(self, condition, timeout: float = 20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"not within {timeout} s; the stand-in got {self.graph.sent}, problems "
                             f"{self.graph.problems}")


CHANNELS = ["messenger", "instagram", "whatsapp"]
USERS = {"messenger": ("24001", "24002"), "instagram": ("34001", "34002"), "whatsapp": ("15557000001", "15557000002")}


@pytest.mark.parametrize("channel", CHANNELS)
def test_the_handshake_echoes_the_challenge_only_for_the_verify_token(app: App, channel: str) -> None:
    def handshake(token: str) -> httpx.Response:
        return httpx.get(f"{app.url}/hooks/{channel}", params={"hub.mode": "subscribe", "hub.verify_token": token,
                                                               "hub.challenge": "1158201444"}, trust_env=False)

    right = handshake(VERIFY[channel])
    assert (right.status_code, right.text) == (200, "1158201444")
    wrong = handshake("guess")
    assert wrong.status_code == 403 and "1158201444" not in wrong.text


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_signed_open_creates_the_contact_counts_the_referral_and_sends_the_replies(app: App, channel: str) -> None:
    ann, bob = USERS[channel]
    assert app.post(channel, app.open(channel, ann, "giveaway2025", name="Ann")).status_code == 200
    ann_id = app.wait_for(lambda: app.contact(channel, ann))
    [invite] = app.wait_for(lambda: app.graph.texts_to(ann))
    assert invite.startswith("Invite your friends with your personal link: ")
    assert f"giveaway2025-c{ann_id}" in invite

    assert app.post(channel, app.open(channel, bob, f"giveaway2025-c{ann_id}", new=False, name="Bob")).status_code \
        == 200
    bob_id = app.wait_for(lambda: app.contact(channel, bob))
    assert app.query("SELECT referrer_id, status, kind FROM referral WHERE referee_id = ?", bob_id) == [
        (ann_id, "counted", "new")]
    texts = app.wait_for(lambda: len(app.graph.texts_to(ann)) >= 3 and app.graph.texts_to(ann))
    assert texts[1] == "Bob joined with your link!"
    assert app.query("SELECT first_name FROM contact WHERE id = ?", bob_id) == [("Bob",)]
    assert texts[2] == "1 of 3 friends joined so far. Keep sharing: the coupon unlocks at 3!"
    assert app.wait_for(lambda: app.graph.texts_to(bob))[0].startswith("Invite your friends")
    assert app.graph.problems == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_wrong_or_missing_signature_is_refused_and_changes_nothing(app: App, channel: str) -> None:
    body = app.open(channel, "99001", "giveaway2025")
    before = app.counts()
    assert app.post(channel, body, signed=False).status_code == 401
    assert app.post(channel, body, secret="not-the-app-secret").status_code == 403
    assert app.post(channel, body, header="sha256=" + "0" * 64).status_code == 403
    assert app.post(channel, body + b" ", header=app_signature(channel, body)).status_code == 403  # body changed
    assert app.counts() == before
    assert app.contact(channel, "99001") is None


def app_signature(channel: str, body: bytes) -> str:
    return "sha256=" + hmac.new(BOTS[channel][2].encode(), body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_replayed_delivery_changes_nothing(app: App, channel: str) -> None:
    user = {"messenger": "25001", "instagram": "35001", "whatsapp": "15557000011"}[channel]
    body = app.open(channel, user, "giveaway2025", name="Cat")
    assert app.post(channel, body).status_code == 200
    app.wait_for(lambda: app.graph.texts_to(user))
    app.wait_for(lambda: app.query("SELECT count(*) FROM outbox_message WHERE state = 'pending'")[0][0] == 0)
    before = app.counts()
    for _ in range(3):
        assert app.post(channel, body).status_code == 200
    time.sleep(1.5)  # a worker poll: anything queued by the replays would have gone out
    assert app.counts() == before
    assert len(app.graph.texts_to(user)) == 1


@pytest.mark.parametrize(("channel", "body"), [
    ("messenger", b"{not json"),
    ("messenger", json.dumps({"object": "instagram", "entry": []}).encode()),
    ("instagram", json.dumps({"object": "instagram", "entry": {"id": "x"}}).encode()),
    ("whatsapp", json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
                             "value": {"messages": [{"type": "text"}]}}]}]}).encode()),
])
def test_a_malformed_body_gets_400_and_nothing_is_stored(app: App, channel: str, body: bytes) -> None:
    before = app.counts()
    response = app.post(channel, body)
    assert response.status_code == 400
    assert app.counts() == before


@pytest.mark.parametrize("channel", CHANNELS)
def test_buttons_go_out_in_the_documented_shape_and_a_press_answers_them(app: App, channel: str) -> None:
    user = {"messenger": "26001", "instagram": "36001", "whatsapp": "15557000021"}[channel]
    assert app.post(channel, app.open(channel, user, "quiz")).status_code == 200
    [question] = app.wait_for(lambda: app.graph.bodies_to(user))
    if channel == "whatsapp":
        assert question["interactive"] == {"type": "button", "body": {"text": "Do you like prizes?"}, "action": {
            "buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}},
                        {"type": "reply", "reply": {"id": "no", "title": "No"}}]}}
    else:
        assert question["message"]["attachment"]["payload"]["buttons"] == [
            {"type": "postback", "title": "Yes", "payload": "yes"},
            {"type": "postback", "title": "No", "payload": "no"}]
    press = app.message(channel, user, "No", button="no")
    assert app.post(channel, press).status_code == 200
    assert app.wait_for(lambda: len(app.graph.texts_to(user)) == 2 and app.graph.texts_to(user))[1] == "Oh well."
    assert app.post(channel, press).status_code == 200  # Meta delivers it again: nothing more happens
    time.sleep(1.5)
    assert app.graph.texts_to(user) == ["Do you like prizes?", "Oh well."]


def test_a_temporary_failure_is_retried_and_the_message_sent_once(app: App) -> None:
    user = "27001"
    app.graph.script[user] = [(500, 2, "An unexpected error has occurred. Please retry your request later."),
                              (400, 613, "Calls to this api have exceeded the rate limit.")]  # then success
    assert app.post("messenger", app.open("messenger", user, "giveaway2025")).status_code == 200
    [text] = app.wait_for(lambda: app.graph.texts_to(user), timeout=30)
    assert text.startswith("Invite your friends")
    assert app.graph.attempts[user] == 3
    contact = app.contact("messenger", user)
    assert app.query("SELECT state, attempts FROM outbox_message WHERE contact_id = ?", contact) == [("sent", 3)]


def test_a_timeout_is_retried_and_the_message_sent_once(app: App) -> None:
    user = "27002"
    app.graph.script[user] = ["timeout"]
    assert app.post("messenger", app.open("messenger", user, "giveaway2025")).status_code == 200
    contact = app.wait_for(lambda: app.contact("messenger", user))
    app.wait_for(lambda: app.query("SELECT state FROM outbox_message WHERE contact_id = ?", contact) == [("sent",)],
                 timeout=40)
    assert len(app.graph.texts_to(user)) == 1
    assert app.query("SELECT attempts FROM outbox_message WHERE contact_id = ?", contact) == [(2,)]
    assert app.graph.attempts[user] == 2  # the stand-in saw the one that timed out, then the one that went


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_permanent_refusal_is_marked_failed_in_metas_words(app: App, channel: str) -> None:
    user = {"messenger": "28001", "instagram": "38001", "whatsapp": "15557000031"}[channel]
    app.graph.script[user] = [(400, 551, "This person isn't available right now.")]
    assert app.post(channel, app.open(channel, user, "giveaway2025")).status_code == 200
    contact = app.wait_for(lambda: app.contact(channel, user))
    label = {"messenger": "Messenger", "instagram": "Instagram", "whatsapp": "WhatsApp"}[channel]
    words = f"{label}: This person isn't available right now. (code 551)"
    assert app.wait_for(lambda: app.query("SELECT state, attempts, last_error FROM outbox_message WHERE contact_id"
                                          " = ? AND state <> 'pending'", contact)) == [("failed", 1, words)]
    assert app.graph.texts_to(user) == []
    assert _channels_page_error(app, channel) == words
    assert _transcript(app, contact)[-1] == ("out", "failed", words)  # the contact's page


def _transcript(app: App, contact_id: int) -> list[tuple]:
    from storage.contacts import list_messages

    with app.database.session() as session:
        messages, _ = list_messages(session=session, contact_id=contact_id)
    return [(m.direction, m.delivery, m.error) for m in messages]


def _channels_page_error(app: App, channel: str) -> str:
    from storage.channel_status import channel_activity

    with app.database.session() as session:
        error = channel_activity(session=session)[channel].last_error
    assert error is not None and error.state == "failed"
    return error.text


def test_whatsapp_free_text_goes_only_within_24_hours_of_the_persons_last_message(app: App) -> None:
    ann, bob = "15557000041", "15557000042"
    assert app.post("whatsapp", app.open("whatsapp", ann, "giveaway2025", name="Ann")).status_code == 200
    ann_id = app.wait_for(lambda: app.contact("whatsapp", ann))
    app.wait_for(lambda: app.graph.texts_to(ann))
    long_ago = (datetime.now(UTC) - timedelta(hours=25)).replace(tzinfo=None).isoformat(" ", "microseconds")
    with app.database.raw_connection() as connection:
        connection.execute("UPDATE contact SET last_seen_at = ? WHERE id = ?", (long_ago, ann_id))
        connection.execute("UPDATE message SET created_at = ? WHERE contact_id = ? AND direction = 'in'",
                           (long_ago, ann_id))
    assert app.post("whatsapp", app.open("whatsapp", bob, f"giveaway2025-c{ann_id}", name="Bob")).status_code == 200
    app.wait_for(lambda: app.graph.texts_to(bob))  # Bob wrote just now: he is answered
    failed = app.wait_for(lambda: app.query("SELECT last_error FROM outbox_message WHERE contact_id = ? AND state ="
                                            " 'failed'", ann_id))
    assert failed[0][0] == ("WhatsApp: the person's last message was 25 hours ago; free text can be sent only "
                            "within 24 hours of it (message templates are not supported).")
    assert len(app.graph.texts_to(ann)) == 1  # only the invitation, sent while the window was open


def test_a_whatsapp_text_pattern_opens_the_entry_point_with_the_referrer_by_phone(app: App) -> None:
    ann, bob = "15557000051", "15557000052"
    assert app.post("whatsapp", app.open("whatsapp", ann, "giveaway2025", name="Ann")).status_code == 200
    ann_id = app.wait_for(lambda: app.contact("whatsapp", ann))
    assert app.post("whatsapp", app.message("whatsapp", bob, f"Hi! You were recommended by +{ann}")).status_code \
        == 200
    assert app.wait_for(lambda: app.graph.texts_to(bob)) == ["Welcome, friend of a friend!"]
    bob_id = app.contact("whatsapp", bob)
    assert app.query("SELECT referrer_id FROM referral WHERE referee_id = ?", bob_id) == [(ann_id,)]


def test_a_batch_of_events_in_one_delivery_is_each_processed_once(app: App) -> None:
    """Meta batches events: one body, two people opening, each named through the profile API."""
    first = json.loads(app.open("messenger", "29001", "giveaway2025", name="Dee Dee"))
    second = json.loads(app.open("messenger", "29002", "quiz", new=False, name="Eli"))
    first["entry"][0]["messaging"] += second["entry"][0]["messaging"]
    body = json.dumps(first).encode()
    assert app.post("messenger", body).status_code == 200
    assert app.post("messenger", body).status_code == 200  # redelivered whole
    dee, eli = app.wait_for(lambda: app.contact("messenger", "29001")), app.wait_for(
        lambda: app.contact("messenger", "29002"))
    assert app.query("SELECT id, first_name, last_name FROM contact WHERE id IN (?, ?) ORDER BY id", dee, eli) == [
        (dee, "Dee", "Dee"), (eli, "Eli", "")]
    assert app.wait_for(lambda: app.graph.texts_to("29002")) == ["Do you like prizes?"]
    time.sleep(1.5)
    assert len(app.graph.texts_to("29001")) == 1
