"""The web chat inside the real app (`app.py serve` in a subprocess, the demo Referral program): what is public and
what stays behind the admin login, and the classic referral story over the chat's HTTP and websocket routes."""

import http.client
import json
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.sync.client import connect

from runtime.definitions import load_definitions
from storage.db import open_database
from tests.helpers import ADMIN_PASSWORD, running_app, subprocess_env


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The app as `make run` starts it, with the demo workspace; yields its URL and the giveaway's web chat link."""
    folder = tmp_path_factory.mktemp("webchat-app")
    env = subprocess_env(REFERFLOW_ADMIN_PASSWORD=ADMIN_PASSWORD, REFERFLOW_STORAGE_SECRET="test",
                  REFERFLOW_SEED_DEMO="1")
    with running_app(env=env, log_path=folder / "server.log", db=folder / "referflow.db") as app:
        database = open_database(url=f"sqlite:///{folder / 'referflow.db'}")
        with database.raw_connection() as connection:
            identities = load_definitions(connection).identities
        database.dispose()
        yield app.url, f"{identities.link_prefix('webchat')}giveaway2025"


def test_a_new_workspace_has_a_working_web_chat_link_on_this_app(app_url: tuple[str, str]) -> None:
    url, link = app_url
    assert link.startswith(f"{url}/webchat/?p=")
    page = httpx.get(link, trust_env=False)
    assert page.status_code == 200
    assert '<script src="chat.js" defer></script>' in page.text


def test_the_chat_is_public_and_carries_nothing_of_the_admin_session(app_url: tuple[str, str]) -> None:
    url, link = app_url
    for answer in (httpx.get(link, trust_env=False), httpx.get(f"{url}/webchat/chat.js", trust_env=False),
                   httpx.post(f"{url}/webchat/api/reply", json={}, trust_env=False)):
        assert "set-cookie" not in answer.headers  # no admin session, no per-visitor storage
        assert "x-frame-options" not in answer.headers
    assert "frame-ancestors *" in httpx.get(link, trust_env=False).headers["content-security-policy"]


def test_everything_else_stays_behind_the_login_and_cannot_be_framed(app_url: tuple[str, str]) -> None:
    url, _ = app_url
    for path in ("/contacts", "/settings", "/channels", "/webchatx", "/webchat.js"):
        answer = httpx.get(url + path, trust_env=False, follow_redirects=False)
        assert answer.status_code in (302, 307) and answer.headers["location"].startswith("/login"), path
    login = httpx.get(f"{url}/login", trust_env=False)
    assert login.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in login.headers["content-security-policy"]
    for raw in ("/webchat/../contacts", "/webchat/%2e%2e/contacts", "/webchat/..%2fcontacts"):
        status, body = _raw_get(url, raw)  # sent as is: no client-side clean-up of the path
        assert status == 404, raw
        assert b"Contacts" not in body


def test_ann_brings_bob_and_her_closed_chat_gets_the_news_when_she_comes_back(app_url: tuple[str, str]) -> None:
    url, link = app_url
    ann, bob = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    socket_url = url.replace("http", "ws") + "/webchat/ws"
    with connect(socket_url) as chat:
        history = _hello(chat, ann)
        assert history["bot"] == "Demo referral bot" and history["messages"] == []
        assert _post(url, "open", {"visitor": ann, "name": "Ann", "address": link}).status_code == 200
        invite = _next(chat)["text"]
    personal = invite.split("personal link: ", 1)[1].split()[0]
    assert urlsplit(personal).query.endswith("ref=giveaway2025-c" + personal.rsplit("-c", 1)[1])

    with connect(socket_url) as chat:  # Ann's chat is closed meanwhile
        _hello(chat, bob)
        assert _post(url, "open", {"visitor": bob, "name": "Bob", "address": personal}).status_code == 200
        assert _next(chat)["text"].startswith("Invite your friends with your personal link: ")

    with connect(socket_url) as chat:
        texts = [message["text"] for message in _hello(chat, ann)["messages"]]
        assert texts[0] == invite
        assert "Bob joined with your link!" in texts
        assert "1 of 3 friends joined so far: 2 more to go." in " ".join(texts)


def _hello(chat, secret: str) -> dict:
    chat.send(json.dumps({"type": "hello", "visitor": secret}))
    return json.loads(chat.recv(timeout=5))


def _next(chat) -> dict:
    data = json.loads(chat.recv(timeout=5))
    assert data["type"] == "message", data
    return data["message"]


def _post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(f"{url}/webchat/api/{path}", json=body, trust_env=False)


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    connection.putrequest("GET", path, skip_accept_encoding=True)
    connection.endheaders()
    response = connection.getresponse()
    return response.status, response.read()
