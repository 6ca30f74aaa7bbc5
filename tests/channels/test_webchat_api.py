"""The public web chat over real HTTP and websockets: the chat's routes on a uvicorn server in this process, with the
live runtime, the outbox worker and the delay scheduler, as the app runs them. What a visitor's browser sends and
sees; what an attacker can (not) reach."""

import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from builder.web_security import WebSettings, client_address, parse_trusted_proxies
from channels.live import LiveServices
from channels.webchat import embed_snippet, setup_webchat
from storage.db import Database
from storage.workspace_io import import_workspace

WORKSPACE = Path(__file__).resolve().parents[1] / "fixtures" / "test_webchat_workspace.json"
ACCOUNT = "acc-test"


@dataclass
class ChatServer:
    url: str
    database: Database

    def address(self, ref: str = "hello") -> str:
        return f"{self.url}/webchat/?p={ACCOUNT}&ref={ref}"

    def post(self, path: str, body: dict | bytes, headers: dict | None = None, **options) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return httpx.post(f"{self.url}/webchat/api/{path}", content=content,
                          headers={"Content-Type": "application/json", **(headers or {})}, **options)

    def visitor(self, name: str = "Ann") -> "Visitor":
        return Visitor(self, secrets.token_urlsafe(32), name)

    def rows(self, sql: str, *args) -> list[tuple]:
        with self.database.raw_connection() as connection:
            return connection.execute(sql, args).fetchall()


@dataclass
class Visitor:
    server: ChatServer
    secret: str
    name: str

    def chat(self) -> "Chat":
        """A browser tab: the websocket says hello and gets the history."""
        socket = connect(self.server.url.replace("http", "ws") + "/webchat/ws", open_timeout=5)
        socket.send(json.dumps({"type": "hello", "visitor": self.secret}))
        history = json.loads(socket.recv(timeout=5))
        assert history["type"] == "history"
        return Chat(socket, history["messages"], history["bot"])

    def open(self, ref: str = "hello", **extra) -> httpx.Response:
        return self.server.post("open", {"visitor": self.secret, "name": self.name,
                                         "address": self.server.address(ref), **extra})

    def reply(self, text: str) -> httpx.Response:
        return self.server.post("reply", {"visitor": self.secret, "text": text})


@dataclass
class Chat:
    socket: ClientConnection
    history: list[dict]
    bot: str

    def next_text(self, timeout: float = 5) -> str:
        return self.next_message(timeout)["text"]

    def next_message(self, timeout: float = 5) -> dict:
        data = json.loads(self.socket.recv(timeout=timeout))
        assert data["type"] == "message", data
        return data["message"]

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def server(database: Database, request: pytest.FixtureRequest) -> Iterator[ChatServer]:
    with database.write_session() as session:
        import_workspace(session=session, document=json.loads(WORKSPACE.read_text()))
    live = LiveServices.create(database)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await live.start()
        yield
        await live.stop()

    app = FastAPI(lifespan=lifespan)
    env = dict(getattr(request, "param", {}))
    web = WebSettings(trusted_proxies=parse_trusted_proxies(env.pop("REFERFLOW_TRUSTED_PROXIES", "")))
    setup_webchat(app, database=database, runtime=live.runtime, worker=live.delivery, env=env,
                  address_of=lambda scope: client_address(scope, web))
    with _serving(app) as url:
        yield ChatServer(url, database)


@pytest.fixture
def ann(server: ChatServer) -> Visitor:
    return server.visitor("Ann")


# --- what a visitor sees --------------------------------------------------------------------------------------


def test_opening_the_chat_is_an_open_of_the_entry_point_and_the_welcome_arrives_as_a_bubble_with_buttons(
        server: ChatServer, ann: Visitor) -> None:
    chat = ann.chat()
    assert chat.history == [] and chat.bot == "Shop bot"
    assert ann.open().json() == {"ok": True}
    welcome = chat.next_message()
    assert welcome["text"] == "Hi Ann! Ready for a question?"
    assert welcome["buttons"] == ["Yes", "No"]
    [(channel, user_id, first_name, last_ref)] = server.rows(
        "SELECT channel, channel_user_id, first_name, last_ref FROM contact")
    assert (channel, first_name, last_ref) == ("webchat", "Ann", "hello")
    assert ann.secret not in user_id  # admins see a hash, never the secret that acts as the visitor
    assert _eventually(lambda: server.rows("SELECT state FROM outbox_message") == [("sent",)])


def test_buttons_and_typed_replies_answer_the_flow(server: ChatServer, ann: Visitor) -> None:
    chat = ann.chat()
    ann.open()
    chat.next_message()
    assert ann.reply("Yes").json() == {"ok": True}
    assert chat.next_text() == "How old are you?"
    ann.reply("forty")
    assert chat.next_text() == "Please answer with a number."
    ann.reply("41")
    assert chat.next_text() == "Thanks, Ann! You are 41."


def test_a_delay_that_fires_while_the_chat_is_open_is_pushed_without_a_request(ann: Visitor) -> None:
    chat = ann.chat()
    ann.open()
    chat.next_message()
    ann.reply("Yes")
    chat.next_message()
    ann.reply("41")
    assert chat.next_text() == "Thanks, Ann! You are 41."
    # The flow waits 1 s; the live scheduler wakes it and the push arrives within 2 s after that.
    assert chat.next_text(timeout=1 + 2) == "A moment later, Ann: still there?"


def test_a_return_visit_is_the_same_contact_with_its_history(server: ChatServer, ann: Visitor) -> None:
    chat = ann.chat()
    ann.open()
    chat.next_message()
    ann.reply("No")
    assert chat.next_text() == "Maybe later, then."
    chat.close()

    again = ann.chat()
    assert [(m["direction"], m["text"]) for m in again.history] == [
        ("out", "Hi Ann! Ready for a question?"), ("in", "No"), ("out", "Maybe later, then.")]
    ann.open()
    assert again.next_text() == "Hi Ann! Ready for a question?"
    assert server.rows("SELECT count(*) FROM contact") == [(1,)]
    assert server.rows("SELECT count(*) FROM link_open") == [(2,)]


def test_messages_sent_while_the_chat_is_closed_wait_and_arrive_once_when_it_opens(server: ChatServer,
                                                                                  ann: Visitor) -> None:
    ann.open()  # no chat open: the welcome waits in the outbox, not even tried (no process has her chat open)
    time.sleep(1.5)  # the worker wakes after the open and polls every second
    assert server.rows("SELECT state, attempts, last_error FROM outbox_message") == [("pending", 0, "")]
    chat = ann.chat()
    assert [m["text"] for m in chat.history] == ["Hi Ann! Ready for a question?"]
    pushed = chat.next_message()  # the pending copy, which the page recognises by its id and shows once
    assert pushed["id"] == chat.history[0]["id"]
    assert _eventually(lambda: server.rows("SELECT state FROM outbox_message") == [("sent",)])


def test_every_open_tab_of_a_visitor_gets_what_the_bot_sends(ann: Visitor) -> None:
    first, second = ann.chat(), ann.chat()
    ann.open()
    assert first.next_text() == second.next_text() == "Hi Ann! Ready for a question?"
    second.close()
    ann.reply("No")
    assert first.next_text() == "Maybe later, then."


def test_a_reload_of_the_same_page_is_the_same_open(server: ChatServer, ann: Visitor) -> None:
    chat = ann.chat()
    ann.open(event="page-load-nonce-1")
    chat.next_message()
    ann.open(event="page-load-nonce-1")
    assert server.rows("SELECT count(*) FROM message") == [(1,)]
    assert server.rows("SELECT count(*) FROM link_open") == [(1,)]


# --- what an attacker gets --------------------------------------------------------------------------------------


def test_a_visitor_who_tries_other_visitors_ids_gets_nothing(server: ChatServer, ann: Visitor) -> None:
    chat = ann.chat()
    ann.open()
    chat.next_message()
    ann.reply("Yes")
    chat.next_message()
    [(contact_id, user_id)] = server.rows("SELECT id, channel_user_id FROM contact")
    before = server.rows("SELECT id, direction, text FROM message")

    near_miss = ann.secret[:-1] + ("A" if ann.secret[-1] != "A" else "B")
    for guess in (user_id, near_miss, secrets.token_urlsafe(32)):
        mallory = Visitor(server, guess, "Mallory")
        assert mallory.chat().history == []  # a hash (or a guess) is a stranger with an empty chat
        assert mallory.reply("41").status_code == 409
    for not_a_secret in (str(contact_id), "ann", "", None, 123, ann.secret[:20]):
        answer = server.post("reply", {"visitor": not_a_secret, "text": "41"})
        assert answer.status_code == 400
        assert answer.json()["error"] == "This chat could not identify your browser; reload the page to start again."
        with pytest.raises(ConnectionClosed) as closed:
            Visitor(server, not_a_secret, "Mallory").chat()
        assert closed.value.rcvd.code == 1008
    for path in (f"/webchat/api/history?contact={contact_id}", f"/webchat/api/contact/{contact_id}",
                 "/webchat/api/messages", "/api/contacts"):
        assert httpx.get(server.url + path).status_code in (404, 405)
    assert server.rows("SELECT id, direction, text FROM message") == before
    chat.socket.send('{"type":"ping"}')
    assert json.loads(chat.socket.recv(timeout=5)) == {"type": "pong"}  # Ann's own chat is untouched


def test_a_chat_link_of_another_account_is_refused(server: ChatServer, ann: Visitor) -> None:
    answer = server.post("open", {"visitor": ann.secret, "name": "Ann",
                                  "address": f"{server.url}/webchat/?p=someone-else&ref=hello"})
    assert answer.status_code == 404
    assert answer.json()["error"] == "This chat link is not for this bot; open the link you were given again."
    assert server.rows("SELECT count(*) FROM contact") == [(0,)]


@pytest.mark.parametrize("server", [{"REFERFLOW_WEBCHAT_VISITOR_RATE": "3/60",
                                     "REFERFLOW_WEBCHAT_ADDRESS_RATE": "100/60"}], indirect=True)
def test_a_visitor_who_sends_too_fast_is_told_to_wait(server: ChatServer, ann: Visitor) -> None:
    chat = ann.chat()  # the hello spends the first of three
    ann.open()
    chat.next_message()
    ann.reply("Yes")
    refused = ann.reply("41")
    assert refused.status_code == 429
    assert refused.json()["error"] == "You are sending messages very fast; wait a few seconds and try again."
    assert "41" not in [text for (text,) in server.rows("SELECT text FROM message WHERE direction = 'in'")]
    time.sleep(1.1)  # 60 a minute: one more every second
    assert ann.reply("41").status_code == 200


@pytest.mark.parametrize("server", [{"REFERFLOW_WEBCHAT_ADDRESS_RATE": "4/1"}], indirect=True)
def test_one_address_opening_many_chats_is_told_to_wait(server: ChatServer) -> None:
    answers = [server.visitor(f"Bot{n}").open() for n in range(6)]
    assert [a.status_code for a in answers] == [200] * 4 + [429] * 2
    assert answers[-1].json()["error"] == ("Too many messages from your network right now; wait a minute and "
                                           "try again.")
    assert server.rows("SELECT count(*) FROM contact") == [(4,)]


@pytest.mark.parametrize("server", [{"REFERFLOW_WEBCHAT_ADDRESS_RATE": "2/1",
                                     "REFERFLOW_TRUSTED_PROXIES": "127.0.0.1"}], indirect=True)
def test_behind_a_trusted_proxy_each_client_it_names_has_its_own_limit(server: ChatServer) -> None:
    def open_from(client: str, name: str) -> int:
        visitor = server.visitor(name)
        return server.post("open", {"visitor": visitor.secret, "name": name, "address": server.address()},
                           headers={"X-Forwarded-For": client}).status_code

    assert [open_from("203.0.113.7", f"A{n}") for n in range(3)] == [200, 200, 429]
    assert [open_from("198.51.100.9", f"B{n}") for n in range(2)] == [200, 200]  # another person behind the proxy


@pytest.mark.parametrize("server", [{"REFERFLOW_WEBCHAT_ADDRESS_RATE": "2/1"}], indirect=True)
def test_a_forged_forwarded_for_from_an_untrusted_peer_does_not_lift_the_address_limit(server: ChatServer) -> None:
    answers = []
    for n in range(3):
        visitor = server.visitor(f"C{n}")
        answers.append(server.post("open", {"visitor": visitor.secret, "name": visitor.name,
                                            "address": server.address()},
                                   headers={"X-Forwarded-For": f"192.0.2.{n}"}).status_code)
    assert answers == [200, 200, 429]


def test_one_visitor_may_keep_five_chats_open_and_is_told_when_a_sixth_is_refused(ann: Visitor) -> None:
    tabs = [ann.chat() for _ in range(5)]
    with pytest.raises(ConnectionClosed) as closed:
        ann.chat()
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "This chat is open in too many tabs; close some and reload this one."
    tabs.pop().close()
    assert _eventually(lambda: _can_open(ann))


@pytest.mark.parametrize("server", [{"REFERFLOW_WEBCHAT_CHATS_PER_ADDRESS": "3"}], indirect=True)
def test_one_address_may_keep_only_so_many_chats_open(server: ChatServer) -> None:
    chats = [server.visitor(f"V{n}").chat() for n in range(3)]
    with pytest.raises(ConnectionClosed) as closed:
        server.visitor("V4").chat()
    assert closed.value.rcvd.reason == "Too many chats are open from your network; close some and try again."
    assert len(chats) == 3


def _can_open(visitor: Visitor) -> bool:
    try:
        visitor.chat().close()
    except ConnectionClosed:
        return False
    return True


def test_a_long_message_is_refused_with_the_limit_and_nothing_is_stored(server: ChatServer, ann: Visitor) -> None:
    ann.chat()
    ann.open()
    answer = ann.reply("x" * 1001)
    assert answer.status_code == 413
    assert answer.json()["error"] == ("Messages can be at most 1,000 characters; yours has 1,001. Shorten it and "
                                      "send it again.")
    assert ann.reply("x" * 1000).status_code == 200
    assert server.rows("SELECT length(text) FROM message WHERE direction = 'in'") == [(1000,)]


def test_request_bodies_are_capped_whatever_they_claim(server: ChatServer, ann: Visitor) -> None:
    big = json.dumps({"visitor": ann.secret, "text": "x" * 9000}).encode()
    assert server.post("reply", big).status_code == 413

    def chunks():
        yield b'{"visitor": "' + ann.secret.encode() + b'", "text": "'
        for _ in range(20):
            yield b"x" * 1000
        yield b'"}'

    streamed = httpx.post(f"{server.url}/webchat/api/open", content=chunks())  # chunked: no Content-Length
    assert streamed.status_code == 413
    assert streamed.json()["error"] == "That request is too large for this chat."
    assert server.post("open", b"not json").status_code == 400
    assert server.post("open", b"[1, 2]").status_code == 400
    assert server.rows("SELECT count(*) FROM contact") == [(0,)]


def test_websocket_messages_are_capped(server: ChatServer, ann: Visitor) -> None:
    chat = ann.chat()
    chat.socket.send("x" * 600)
    with pytest.raises(ConnectionClosed) as closed:
        chat.socket.recv(timeout=5)
    assert closed.value.rcvd.code == 1009

    chat = ann.chat()
    chat.socket.send(json.dumps({"type": "reply", "text": "hi"}))  # replies go over HTTP, never this socket
    with pytest.raises(ConnectionClosed) as closed:
        chat.socket.recv(timeout=5)
    assert closed.value.rcvd.code == 1008

    socket = connect(server.url.replace("http", "ws") + "/webchat/ws")
    socket.send(json.dumps({"type": "hello", "visitor": ann.secret, "padding": "x" * 600}))
    with pytest.raises(ConnectionClosed) as closed:
        socket.recv(timeout=5)
    assert closed.value.rcvd.code == 1008
    assert closed.value.rcvd.reason == "The chat sent too much at once."


def test_the_page_is_framable_text_only_and_carries_no_session(server: ChatServer) -> None:
    page = httpx.get(server.address())
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors *" in policy and "script-src 'self'" in policy
    assert "set-cookie" not in page.headers
    script = httpx.get(f"{server.url}/webchat/chat.js").text
    assert "innerHTML" not in script and "insertAdjacentHTML" not in script
    assert httpx.get(f"{server.url}/webchat?p={ACCOUNT}&ref=hello", follow_redirects=False).headers["location"] \
        == f"/webchat/?p={ACCOUNT}&ref=hello"


def test_the_embed_snippet_loads_the_button_from_the_chat_and_escapes_the_link() -> None:
    snippet = embed_snippet(chat_url='https://bot.example.com/webchat/?p=acc&ref=hello"><b>')
    assert snippet == ('<script src="https://bot.example.com/webchat/embed.js" '
                       'data-referflow-chat="https://bot.example.com/webchat/?p=acc&amp;ref=hello&quot;&gt;&lt;b&gt;" '
                       'async></script>')


# --- helpers ------------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # it runs in a thread
        pass


@contextmanager
def _serving(app: FastAPI) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                    proxy_headers=False))  # as app.py serves: forwarded headers are ours to judge
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    assert _eventually(lambda: server.started, timeout=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _eventually(check, timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return bool(check())

