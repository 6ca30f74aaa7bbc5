"""The public web chat's HTTP and websocket routes, all under `/webchat/` (served before the admin app: see ChatFirst).

The page is plain HTML, CSS and JS (assets/webchat/); a visitor's browser posts opens and replies as small JSON
requests and keeps one websocket open, on which the outbox worker pushes everything the bot sends them.
"""

import asyncio
import contextlib
import functools
import hashlib
import json
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.types import Scope

from channels.webchat.guard import (
    BODY_LIMIT,
    SOCKET_MESSAGE_LIMIT,
    Gate,
    VisitorError,
    check_address,
    check_name,
    check_text,
    visitor_user_id,
)
from channels.webchat.hub import ChatHub, OpenChat
from channels.webchat.transcript import find_visitor, read_history
from runtime.opening import Inbound
from runtime.service import Runtime
from storage.db import Database

PREFIX = "/webchat"
ASSETS = Path(__file__).resolve().parents[2] / "assets" / "webchat"
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
               "frame-ancestors *; base-uri 'none'; form-action 'none'")
PUBLIC_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
                  "Cross-Origin-Resource-Policy": "cross-origin"}
API_HEADERS = {**PUBLIC_HEADERS, "Cache-Control": "no-store"}
ASSET_TYPES = {"index.html": "text/html; charset=utf-8", "chat.js": "text/javascript; charset=utf-8",
               "chat.css": "text/css; charset=utf-8", "embed.js": "text/javascript; charset=utf-8"}
HELLO_TIMEOUT = 10.0  # seconds a new websocket has to say who it is


class WebChat:
    """The routes' shared parts: the live runtime, the outbox worker, the open chats and the rate limits."""

    def __init__(self, *, database: Database, runtime: Runtime, worker: Any, gate: Gate,
                 address_of: Callable[[Scope], str] | None = None) -> None:
        self.database = database
        self.address_of = address_of or peer_address  # behind a trusted proxy: the client it names
        self.runtime = runtime
        self.worker = worker
        self.gate = gate
        self.hub = ChatHub()
        # The chat's own threads for blocking calls: visitors never queue behind the worker's or NiceGUI's jobs in
        # the loop's default executor (the runtime serialises its calls anyway, so a few threads are plenty).
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webchat")
        self.assets = {name: _Asset.load(ASSETS / name, kind) for name, kind in ASSET_TYPES.items()}

    async def _off_loop(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._threads, function, *args)

    def mount(self, app: FastAPI) -> None:
        app.add_api_route(PREFIX, self.redirect, methods=["GET"], include_in_schema=False)
        app.add_api_route(PREFIX + "/", self.page, methods=["GET"], include_in_schema=False)
        for name in ("chat.js", "chat.css", "embed.js"):
            app.add_api_route(f"{PREFIX}/{name}", self._asset_route(name), methods=["GET"], include_in_schema=False)
        app.add_api_route(PREFIX + "/api/open", self.open, methods=["POST"], include_in_schema=False)
        app.add_api_route(PREFIX + "/api/reply", self.reply, methods=["POST"], include_in_schema=False)
        app.add_api_websocket_route(PREFIX + "/ws", self.socket)

    # --- pages -------------------------------------------------------------------------------------------------

    async def redirect(self, request: Request) -> Response:
        query = request.url.query
        return RedirectResponse(PREFIX + "/" + (f"?{query}" if query else ""), status_code=307)

    async def page(self, request: Request) -> Response:
        return self.assets["index.html"].response(request, {"Content-Security-Policy": PAGE_POLICY})

    def _asset_route(self, name: str):
        async def serve(request: Request) -> Response:
            return self.assets[name].response(request)
        return serve

    # --- the JSON API ------------------------------------------------------------------------------------------

    async def open(self, request: Request) -> Response:
        """A visitor opened the chat's address: one open of DOMAIN §4 (channel webchat, ref and payload from it)."""
        try:
            body = await _read_json(request)
            user_id = visitor_user_id(body.get("visitor"))
            self.gate.check(address=self.address_of(request.scope), visitor=user_id)
            address = check_address(body.get("address"))
            account = _account_of(address)
            name = check_name(body.get("name"))
            inbound = Inbound(text=address, channel="webchat", channel_user_id=user_id, first_name=name,
                              event_id=_event_id(user_id, body.get("event")))
            await self._off_loop(self._open, account, inbound)
        except VisitorError as error:
            return _refusal(error)
        return JSONResponse({"ok": True}, headers=API_HEADERS)

    async def reply(self, request: Request) -> Response:
        """A typed reply or a pressed button (its title)."""
        try:
            body = await _read_json(request)
            user_id = visitor_user_id(body.get("visitor"))
            self.gate.check(address=self.address_of(request.scope), visitor=user_id)
            text = check_text(body.get("text"))
            result = await self._off_loop(functools.partial(self.runtime.reply, channel="webchat",
                                                            channel_user_id=user_id, text=text))
        except VisitorError as error:
            return _refusal(error)
        if result.contact_id is None:
            return _refusal(VisitorError("This chat has not started yet; open the link you were given again.", 409))
        return JSONResponse({"ok": True}, headers=API_HEADERS)

    def _open(self, account: str | None, inbound: Inbound) -> None:
        if account is None or account != self.runtime.definitions().identities.webchat_account_id:
            raise VisitorError("This chat link is not for this bot; open the link you were given again.", 404)
        result = self.runtime.open_link(inbound)
        if result.contact_id is not None:
            self.hub.know(inbound.channel_user_id, result.contact_id)
            self.worker.wake()  # its messages were skipped if the worker looked before the hub knew the contact

    # --- the websocket -----------------------------------------------------------------------------------------

    async def socket(self, socket: WebSocket) -> None:
        """Says hello with the visitor secret, gets the history, then receives every message the bot sends."""
        await socket.accept()
        address = self.address_of(socket.scope)
        try:
            user_id = await self._hello(socket, address)
            with self.gate.open_chat(address=address, visitor=user_id):
                await self._serve(socket, user_id)
        except VisitorError as error:
            await _close(socket, 1008, str(error))
        except (WebSocketDisconnect, TimeoutError):
            return

    async def _serve(self, socket: WebSocket, user_id: str) -> None:
        chat = OpenChat(socket)
        contact_id = await self._off_loop(self._find_contact, user_id)
        history = await self._off_loop(self._history, contact_id) if contact_id is not None else []
        await chat.send({"type": "history", "bot": self.runtime.definitions().bot_name, "messages": history})
        self.hub.attach(user_id, chat, contact_id)
        try:
            if contact_id is not None:
                await self.worker.retry_now(contact_id)
            await self._listen(socket)
        finally:
            self.hub.detach(user_id, chat)

    async def _hello(self, socket: WebSocket, address: str) -> str:
        message = await asyncio.wait_for(socket.receive(), HELLO_TIMEOUT)
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text") or ""
        if len(text.encode()) > SOCKET_MESSAGE_LIMIT or len(message.get("bytes") or b"") > SOCKET_MESSAGE_LIMIT:
            raise VisitorError("The chat sent too much at once.")
        try:
            hello = json.loads(text)
        except ValueError:
            raise VisitorError("The chat spoke an unknown language.") from None
        if not isinstance(hello, dict) or hello.get("type") != "hello":
            raise VisitorError("The chat must say hello first.")
        user_id = visitor_user_id(hello.get("visitor"))
        self.gate.check(address=address, visitor=user_id)
        return user_id

    async def _listen(self, socket: WebSocket) -> None:
        """The browser only ever sends keep-alive pings; anything large or unknown closes the socket."""
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text") or message.get("bytes") or ""
            if len(data) > SOCKET_MESSAGE_LIMIT:
                await _close(socket, 1009, "The chat sent too much at once.")
                return
            if data != '{"type":"ping"}':
                await _close(socket, 1008, "The chat sent something it should not.")
                return
            await socket.send_text('{"type":"pong"}')

    def _find_contact(self, user_id: str) -> int | None:
        with self.database.raw_connection() as connection:
            return find_visitor(connection, channel_user_id=user_id)

    def _history(self, contact_id: int) -> list[dict[str, Any]]:
        with self.database.raw_connection() as connection:
            return read_history(connection, contact_id=contact_id)


class _Asset:
    def __init__(self, body: bytes, kind: str) -> None:
        self.body = body
        self.kind = kind
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'

    @classmethod
    def load(cls, path: Path, kind: str) -> "_Asset":
        return cls(path.read_bytes(), kind)

    def response(self, request: Request, extra: dict[str, str] | None = None) -> Response:
        headers = {**PUBLIC_HEADERS, "Cache-Control": "no-cache", "ETag": self.etag, **(extra or {})}
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.kind, headers=headers)


async def _read_json(request: Request) -> dict[str, Any]:
    """The body, at most BODY_LIMIT bytes whatever the Content-Length says, as a JSON object."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > BODY_LIMIT):
        raise VisitorError("That request is too large for this chat.", 413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > BODY_LIMIT:
            raise VisitorError("That request is too large for this chat.", 413)
    try:
        data = json.loads(body)
    except ValueError:
        raise VisitorError("The chat sent something unreadable; reload the page.", 400) from None
    if not isinstance(data, dict):
        raise VisitorError("The chat sent something unreadable; reload the page.", 400)
    return data


def _account_of(address: str) -> str | None:
    """The `p=` of a web chat address (the account its links carry), None when it is no web chat address."""
    parts = urlsplit(address)
    found = re.search(r"(?:^|[?&])p=([^&?#]*)", parts.query)
    if not parts.path.rstrip("/").endswith(PREFIX) or found is None:
        return None
    return unquote(found[1]).strip()


def _event_id(user_id: str, nonce: object) -> str | None:
    """One page load's open, so a browser retrying the same request changes nothing the second time."""
    if not isinstance(nonce, str) or not re.fullmatch(r"[A-Za-z0-9_-]{8,64}", nonce):
        return None
    return f"webchat:{user_id}:{nonce}"


def peer_address(scope: Scope) -> str:
    """The address at the other end of the connection (no proxy trusted)."""
    peer = scope.get("client")
    return peer[0] if peer else "unknown"


def _refusal(error: VisitorError) -> Response:
    return JSONResponse({"ok": False, "error": str(error)}, status_code=error.status, headers=API_HEADERS)


async def _close(socket: WebSocket, code: int, reason: str) -> None:
    with contextlib.suppress(RuntimeError):  # already closed by the browser
        await socket.close(code=code, reason=reason[:120])
