"""Someone probing the webhook routes is slowed down; a platform's verified deliveries never are."""

import json

from cryptography.fernet import Fernet
from fastapi import FastAPI
from fastapi.testclient import TestClient

from builder.web_security import WebSettings, install_security_headers
from channels.hooks import REFUSALS, setup_hooks
from channels.live import LiveServices
from storage.db import Database


class _App(FastAPI):
    """The two start-up hooks of NiceGUI's app that setup_hooks uses."""

    def on_startup(self, handler) -> None:
        self.router.on_startup.append(handler)

    def on_shutdown(self, handler) -> None:
        self.router.on_shutdown.append(handler)


def _client(database: Database, app: FastAPI | None = None) -> TestClient:
    app = app or _App()
    live = LiveServices.create(database)
    setup_hooks(app, database=database, runtime=live.runtime, worker=live.delivery,
                env={"REFERFLOW_SECRET_KEY": Fernet.generate_key().decode()},
                address_of=lambda scope: dict(scope["headers"]).get(b"x-test-peer", b"?").decode())
    return TestClient(app)


def test_webhook_answers_carry_the_security_headers_once_whatever_was_installed_first(database: Database) -> None:
    app = _App()
    install_security_headers(app, WebSettings())
    _client(database, app)
    client = _client(database, app)  # the same app set up again, as a second serve in one process does
    answer = client.post("/hooks/nowhere")
    assert answer.status_code == 404
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
    assert answer.headers["x-frame-options"] == "DENY"


def test_an_address_whose_requests_keep_being_refused_gets_429_and_others_do_not(database: Database) -> None:
    client = _client(database)
    update = json.dumps({"update_id": 1, "message": {"text": "/start giveaway2025"}})
    probing = [client.post("/hooks/telegram", content=update, headers={"x-test-peer": "203.0.113.5"}).status_code
               for _ in range(REFUSALS.burst + 3)]
    assert set(probing[:REFUSALS.burst]) <= {401, 403, 404} and probing[REFUSALS.burst:] == [429, 429, 429]
    answer = client.post("/hooks/telegram", content=update, headers={"x-test-peer": "198.51.100.1"})
    assert answer.status_code in (401, 403, 404)  # another address is judged on its own request
    assert client.post("/hooks/nowhere", headers={"x-test-peer": "203.0.113.5"}).headers["retry-after"] == "60"
