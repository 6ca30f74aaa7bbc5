"""Referflow's own web chat: a public page at `/webchat/?p=ACCOUNT&ref=REF` where visitors talk to the live bot.

`PUBLIC_PREFIX` is the only part of the app that the admin login lets through for it (builder/auth.py); nothing under
it reads or writes anything but the calling visitor's own conversation.
"""

import html
import os
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from channels.webchat.guard import Gate, Limits
from channels.webchat.routes import PREFIX, WebChat
from runtime.service import Runtime
from storage.db import Database

PUBLIC_PREFIX = PREFIX + "/"

__all__ = ["PUBLIC_PREFIX", "FrameGuard", "WebChat", "embed_snippet", "setup_webchat"]


def setup_webchat(app: FastAPI, *, database: Database, runtime: Runtime, worker: Any, account: str | None = None,
                  env: dict[str, str] | None = None) -> WebChat:
    """Mount the chat's routes on `app` and register its sender with the outbox worker. `account` is the `p=` the
    chat answers to (default: the workspace's own web chat account)."""
    from channels.delivery import RetryPolicy

    if account is None:
        from storage.workspace import own_webchat_account

        with database.session() as session:
            account = own_webchat_account(session=session)
    chat = WebChat(database=database, runtime=runtime, worker=worker, account=account,
                   gate=Gate(Limits.from_env(dict(os.environ) if env is None else env)))
    chat.mount(app)
    # A visitor may come back days later: their messages wait (and show in the history), retried when they connect.
    worker.register_sender("webchat", chat.hub.deliver, RetryPolicy(max_attempts=1_000_000, base_delay=2.0,
                                                                     max_delay=3600.0))
    app.add_middleware(FrameGuard)
    return chat


def embed_snippet(*, chat_url: str) -> str:
    """HTML for any website: a floating chat button that opens this web chat link in a frame."""
    base = chat_url.split("?", 1)[0].rstrip("/")
    script = html.escape(f"{base}/embed.js", quote=True)
    return f'<script src="{script}" data-referflow-chat="{html.escape(chat_url, quote=True)}" async></script>'


class FrameGuard:
    """Admin pages may not be framed by other sites (clickjacking); only the public web chat may."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path == PREFIX or path.startswith(PUBLIC_PREFIX):
            await self.app(scope, receive, send)
            return

        async def guarded(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-frame-options", b"DENY"),
                                      (b"content-security-policy", b"frame-ancestors 'none'")]
            await send(message)

        await self.app(scope, receive, guarded)
