"""Referflow's own web chat: a public page at `/webchat/?p=ACCOUNT&ref=REF` where visitors talk to the live bot.

`PUBLIC_PREFIX` is the only part of the app that the admin login lets through for it (builder/auth.py); nothing under
it reads or writes anything but the calling visitor's own conversation.
"""

import html
import os
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from channels.asgi import wrap_app
from channels.webchat.guard import Gate, Limits
from channels.webchat.routes import PREFIX, WebChat
from runtime.service import Runtime
from storage.db import Database

PUBLIC_PREFIX = PREFIX + "/"

__all__ = ["PUBLIC_PREFIX", "ChatFirst", "WebChat", "embed_snippet", "setup_webchat"]


def setup_webchat(app: FastAPI, *, database: Database, runtime: Runtime, worker: Any,
                  env: dict[str, str] | None = None, address_of: Callable[[Scope], str] | None = None) -> WebChat:
    """Serve the chat under `/webchat/` in front of `app` and register its sender with the outbox worker. The chat
    answers to the account id that the workspace's web chat links carry (`p=`); `env` holds the rate limits (default
    os.environ); `address_of` names the person behind a request (default: the connection's peer)."""
    from channels.delivery import RetryPolicy

    chat = WebChat(database=database, runtime=runtime, worker=worker,
                   gate=Gate(Limits.from_env(dict(os.environ) if env is None else env)), address_of=address_of)
    chat_app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    chat.mount(chat_app)
    # The chat is answered before any of the admin app's middleware runs (wherever they were added), so a visitor
    # never gets an admin session cookie or a per-session storage, and each request costs only the chat's own work.
    wrap_app(app, "webchat", lambda admin: ChatFirst(admin, chat_app))
    # A visitor may come back days later: their messages wait (and show in the history), retried when they connect.
    worker.register_sender("webchat", chat.hub.deliver, RetryPolicy(max_attempts=1_000_000, base_delay=2.0,
                                                                     max_delay=3600.0),
                           reachable=chat.hub.reachable)
    return chat


def embed_snippet(*, chat_url: str) -> str:
    """HTML for any website: a floating chat button that opens this web chat link in a frame."""
    base = chat_url.split("?", 1)[0].rstrip("/")
    script = html.escape(f"{base}/embed.js", quote=True)
    return f'<script src="{script}" data-referflow-chat="{html.escape(chat_url, quote=True)}" async></script>'


class ChatFirst:
    """`/webchat` and everything under it goes to the public chat, never through the admin app's session and login
    middleware; the rest to the admin app. The security headers (builder/web_security.py) wrap both: admin pages may
    not be framed by other sites (clickjacking), the chat may."""

    def __init__(self, admin: ASGIApp, chat: ASGIApp) -> None:
        self.admin = admin
        self.chat = chat

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and (path == PREFIX or path.startswith(PUBLIC_PREFIX)):
            await self.chat(scope, receive, send)
            return
        await self.admin(scope, receive, send)
