"""The platforms' webhooks: public routes `/hooks/<channel>`, answered in front of the admin app (no admin session,
no login), and what every channel adapter shares.

Each adapter is a `HookChannel` (channels/telegram.py, channels/viber.py, channels/messenger.py...): it verifies a
delivery FIRST (a bad, missing or stale signature or secret gets 401/403 and nothing is stored), reads it (malformed:
400, nothing stored), deduplicates, and calls the live runtime off the event loop through `Hooks`. What the bot
sends goes through the outbox: each adapter's sender is registered with the delivery worker while it is connected.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from channels.asgi import wrap_app
from channels.delivery import RetryPolicy, Sender
from channels.hooks.http import ApiUrls, PlatformApi, api_timeout
from channels.ratelimit import RateLimit, RateLimiter
from runtime.inbound import Inbound
from runtime.opening import OpenResult
from runtime.service import Runtime, TurnResult
from storage import channel_connections as store
from storage.channel_connections import BotConnection
from storage.db import Database
from storage.secrets import SecretBox

__all__ = ["PREFIX", "BotConnection", "ConnectError", "ConnectField", "ConnectResult", "HookChannel", "HookRequest",
           "Hooks", "HooksFirst", "bad_request", "forbidden", "ok", "setup_hooks", "when"]

log = logging.getLogger(__name__)
PREFIX = "/hooks"
REFUSALS = RateLimit(burst=30, per_minute=30)  # refused requests one address may make before it gets 429s
MAX_BODY = 1_048_576  # bytes: Telegram updates are small; Meta batches up to 1,000 entries, still far below this
HEARD_EVERY = 5.0  # seconds between writes of a connection's last event
CONNECTION_POLL = 5.0  # seconds: a channel connected from the command line starts delivering here within this


@dataclass(frozen=True)
class HookRequest:
    """One delivery to `/hooks/<channel>`: the raw body (signatures cover its exact bytes), headers, query."""

    method: str
    body: bytes
    headers: dict[str, str]  # lower-case names
    query: dict[str, str]


@dataclass(frozen=True)
class ConnectField:
    name: str  # the key in `connect(..., values)` and the CLI option (--name with _ as -)
    label: str
    secret: bool = False
    help: str = ""


@dataclass(frozen=True)
class ConnectResult:
    """What connecting did: the saved connection, and what the admin must know or do next (callback address, a
    generated verify token shown this once, which webhook fields to subscribe)."""

    connection: BotConnection
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HookChannel:
    """One platform, declared once: its webhook handlers, its sender, and how it is connected."""

    name: str
    label: str
    receive: Callable[[HookRequest, "Hooks"], Awaitable[Response]]  # POST /hooks/<name>
    sender: Callable[["Hooks"], Sender]
    connect: Callable[["Hooks", dict[str, str]], Awaitable[ConnectResult]]  # raises ConnectError
    connect_fields: tuple[ConnectField, ...]
    handshake: Callable[[HookRequest, "Hooks"], Awaitable[Response]] | None = None  # GET /hooks/<name> (Meta)
    disconnect: Callable[["Hooks", BotConnection], Awaitable[None]] | None = None  # e.g. remove the webhook
    status: Callable[["Hooks", BotConnection], Awaitable[list[tuple[str, str]]]] | None = None  # lines to show
    policy: RetryPolicy = field(default_factory=RetryPolicy)


class ConnectError(Exception):
    """Connecting failed; the message says why, in the platform's words when it gave some."""


@dataclass
class Hooks:
    """What adapters use: the live runtime and database (their calls block: use the async methods here, which run
    them in a thread), the platforms' API client and addresses, and the secret box."""

    database: Database
    runtime: Runtime
    worker: Any  # channels.delivery.DeliveryWorker
    box: SecretBox
    urls: ApiUrls
    api: PlatformApi
    channels: dict[str, HookChannel]
    public_url: Callable[[], str]  # the effective public address (Settings, else REFERFLOW_PUBLIC_URL, else served)
    _delivering: set[str] = field(default_factory=set)
    _tasks: set[asyncio.Task] = field(default_factory=set)
    _heard: dict[tuple[str, str], float] = field(default_factory=dict)
    # Requests refused (bad signature, malformed, unknown channel...) per address: a platform's own deliveries pass
    # verification and never spend from it, so only someone probing the routes is slowed down.
    refusals: RateLimiter = field(default_factory=lambda: RateLimiter(REFUSALS))
    address_of: Callable[[Scope], str] = field(default=lambda scope: (scope.get("client") or ("unknown",))[0])
    # (channel, person) -> the message the webhook's HTTP answer carries (Viber's welcome), while the answer waits
    answers: dict[tuple[str, str], asyncio.Future] = field(default_factory=dict)

    def spawn(self, work: Awaitable[Any]) -> None:
        """Run `work` beside the answer to the platform (e.g. Telegram's answerCallbackQuery)."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def callback_url(self, channel: str) -> str:
        return f"{self.public_url().rstrip('/')}{PREFIX}/{channel}"

    async def open(self, inbound: Inbound) -> OpenResult:
        """An open, processed in one transaction; with `inbound.event_id` a redelivery changes nothing
        (`result.duplicate_event`)."""
        return await asyncio.to_thread(self.runtime.open_link, inbound)

    async def reply(self, *, channel: str, channel_user_id: str, text: str) -> TurnResult:
        return await asyncio.to_thread(self.runtime.reply, channel=channel, channel_user_id=channel_user_id,
                                       text=text)

    async def first_time(self, *, channel: str, bot: str, event_id: str) -> bool:
        """Claims a non-open event (a reply, a button press): False when the platform delivers it again."""
        return await asyncio.to_thread(store.claim_hook_event, database=self.database, channel=channel, bot=bot,
                                       event_id=event_id)

    async def forget(self, *, channel: str, bot: str, event_id: str) -> None:
        """Processing a claimed event failed: the platform's retry will be processed."""
        await asyncio.to_thread(store.release_hook_event, database=self.database, channel=channel, bot=bot,
                                event_id=event_id)

    async def connections(self, channel: str) -> list[BotConnection]:
        return await asyncio.to_thread(store.list_connections, database=self.database, box=self.box, channel=channel)

    async def heard(self, connection: BotConnection) -> None:
        """The connection's last event is now (written at most every HEARD_EVERY seconds: a busy bot's webhooks
        would otherwise each cost one more write)."""
        key, now = (connection.channel, connection.bot_id), time.monotonic()
        if now - self._heard.get(key, -HEARD_EVERY) < HEARD_EVERY:
            return
        self._heard[key] = now
        await asyncio.to_thread(store.record_event, database=self.database, channel=connection.channel,
                                bot_id=connection.bot_id)

    async def failed(self, channel: str, bot_id: str, error: str) -> None:
        await asyncio.to_thread(store.record_error, database=self.database, channel=channel, bot_id=bot_id,
                                error=error)

    async def save(self, **values: Any) -> BotConnection:
        """storage.channel_connections.save_connection with this box, then delivering starts."""
        saved = await asyncio.to_thread(store.save_connection, database=self.database, box=self.box, **values)
        self.deliver(saved.channel, True)
        return saved

    async def set_identity(self, name: str, value: str) -> None:
        """Fill the channel's identity in Settings (e.g. `telegram_bot` from getMe) that its links are built with."""
        await asyncio.to_thread(_set_identity, self.database, name, value)

    async def connect(self, channel: str, values: dict[str, str]) -> ConnectResult:
        spec = self.channels.get(channel)
        if spec is None:
            raise ConnectError(f"Referflow has no webhook for '{channel}'; it connects "
                               + ", ".join(self.channels) + ".")
        return await spec.connect(self, values)

    async def disconnect(self, channel: str) -> int:
        spec = self.channels[channel]
        existing = await self.connections(channel)
        for connection in existing:
            if spec.disconnect is not None:
                try:
                    await spec.disconnect(self, connection)
                except Exception as error:  # the platform may be unreachable: disconnecting here still works
                    log.warning("%s: removing the webhook failed (%s)", channel, type(error).__name__)
        removed = await asyncio.to_thread(store.delete_connections, database=self.database, channel=channel)
        self.deliver(channel, False)
        return removed

    def deliver(self, channel: str, connected: bool) -> None:
        """Register the channel's sender (connected) or hold its messages in the outbox (not connected)."""
        spec = self.channels[channel]
        if connected:
            self.worker.register_sender(channel, spec.sender(self), spec.policy)
            self._delivering.add(channel)
        elif channel in self._delivering:
            self.worker.register_sender(channel, spec.sender(self), spec.policy, reachable=tuple)  # nobody: wait
            self._delivering.discard(channel)

    async def sync_senders(self) -> None:
        """Deliver exactly through the channels connected now (also when another process connected them)."""
        connected = await asyncio.to_thread(_connected_channels, self.database)
        for channel in self.channels:
            if (channel in connected) != (channel in self._delivering):
                self.deliver(channel, channel in connected)

    async def watch(self) -> None:
        while True:
            try:
                await self.sync_senders()
            except Exception:
                log.exception("reading the connected channels failed")
            await asyncio.sleep(CONNECTION_POLL)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app for everything under /hooks."""
        if scope["type"] != "http":
            return
        address = self.address_of(scope)
        if self.refusals.exhausted(address):
            await PlainTextResponse("Too Many Requests: too many refused requests from this address", 429,
                                    headers={"Retry-After": "60"})(scope, receive, send)
            return
        request = Request(scope, receive)
        name = scope.get("path", "")[len(PREFIX):].strip("/")
        spec = self.channels.get(name)
        response = await self._answer(request, spec) if spec else PlainTextResponse("Not Found", 404)
        if 400 <= response.status_code < 500:
            self.refusals.allow(address)  # spends one of the address's refusals
        await response(scope, receive, send)

    async def _answer(self, request: Request, spec: HookChannel) -> Response:
        if request.method not in ("POST", "GET") or (request.method == "GET" and spec.handshake is None):
            return PlainTextResponse("Method Not Allowed", 405)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            return PlainTextResponse("Payload Too Large", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                return PlainTextResponse("Payload Too Large", 413)
        hook = HookRequest(request.method, bytes(body), {k.lower(): v for k, v in request.headers.items()},
                           dict(request.query_params))
        try:
            handler = spec.receive if request.method == "POST" else spec.handshake
            assert handler is not None
            return await handler(hook, self)
        except Exception:  # the platform retries a 500; the traceback names no secret and no body
            log.exception("%s webhook: processing failed", spec.name)
            return PlainTextResponse("Internal Server Error", 500)


def forbidden(reason: str = "Forbidden", status: int = 403) -> Response:
    return PlainTextResponse(reason, status)


def bad_request(reason: str) -> Response:
    return PlainTextResponse(f"Bad Request: {reason}", 400)


def ok(body: dict | None = None) -> Response:
    return JSONResponse(body or {"ok": True})


def _set_identity(database: Database, name: str, value: str) -> None:
    from storage.models import WorkspaceSettings, utcnow

    with database.write_session() as session:
        settings = session.get(WorkspaceSettings, 1) or WorkspaceSettings()
        setattr(settings, name, value)
        settings.updated_at = utcnow()
        session.add(settings)


def _connected_channels(database: Database) -> set[str]:
    with database.raw_connection() as connection:
        return {row[0] for row in connection.execute("SELECT DISTINCT channel FROM channel_connection")}


def read_public_url(database: Database) -> str:
    """The effective public address as the Settings page and REFERFLOW_PUBLIC_URL give it now."""
    from storage.settings import get_settings, public_url

    with database.session() as session:
        return public_url(get_settings(session=session))


def when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "never"


class HooksFirst:
    """`/hooks/...` goes to the webhooks, never through the admin app's session and login middleware."""

    def __init__(self, admin: ASGIApp, hooks: "Hooks") -> None:
        self.admin = admin
        self.hooks = hooks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.hooks.handle(scope, receive, send)
            return
        await self.admin(scope, receive, send)


def setup_hooks(app: Any, *, database: Database, runtime: Runtime, worker: Any,
                public_url: Callable[[], str] | None = None, env: dict[str, str] | None = None,
                address_of: Callable[[Scope], str] | None = None) -> Hooks:
    """Serve `/hooks/<channel>` in front of `app` and deliver through every connected channel. Returns the Hooks,
    also kept as `app.state.referflow_hooks` (the Channels page connects with it)."""
    from channels.hooks.registry import hook_channels
    from storage.secrets import load_secret_box

    hooks = Hooks(database=database, runtime=runtime, worker=worker,
                  box=load_secret_box(database_url=database.url, env=env), urls=ApiUrls.from_env(env),
                  api=PlatformApi(timeout=api_timeout(env)), channels={spec.name: spec for spec in hook_channels()},
                  public_url=public_url or (lambda: read_public_url(database)))
    if address_of is not None:  # behind a trusted proxy: the client it names
        hooks.address_of = address_of
    app.state.referflow_hooks = hooks
    wrap_app(app, "hooks", lambda admin: HooksFirst(admin, hooks))
    tasks: list[asyncio.Task] = []

    async def start() -> None:
        await hooks.sync_senders()
        tasks.append(asyncio.create_task(hooks.watch()))

    async def stop() -> None:
        for task in tasks:
            task.cancel()
        await hooks.api.close()

    app.on_startup(start)
    app.on_shutdown(stop)
    return hooks
