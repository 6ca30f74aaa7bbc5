"""Messenger, Instagram and WhatsApp live: connecting a page, an Instagram account or a phone number, answering
Meta's webhook, and sending the outbox through the Send API (`/{id}/messages`). The formats are in channels/meta.

Each channel has one connection (storage/channel_connections.py): its `bot_id` is the page id, the Instagram account
id or the phone-number id; its secrets are the access token and the app secret; its verify token is generated on
connect.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from starlette.responses import PlainTextResponse, Response

from channels.delivery import OutboxItem, PermanentFailure, TemporaryFailure
from channels.hooks import (
    BotConnection,
    ConnectError,
    ConnectField,
    ConnectResult,
    HookChannel,
    HookRequest,
    Hooks,
    bad_request,
    forbidden,
)
from channels.meta import (
    GET_STARTED,
    META_CHANNELS,
    WEBHOOK_FIELDS,
    MalformedWebhook,
    MetaEvent,
    answer_handshake,
    messenger_message,
    read_graph_error,
    read_webhook,
    signature_matches,
    whatsapp_message,
)
from runtime.link_reading import match_whatsapp_text
from runtime.links import LinkError
from runtime.opening import Inbound
from runtime.service import LIVE, RunOptions, Runtime
from runtime.vocabulary import CHANNEL_NAMES, window_closed
from storage import channel_connections as store
from storage.db import Database

ID_NAMES = {"messenger": "Facebook page id", "instagram": "Instagram account id", "whatsapp": "phone-number id"}


@dataclass(frozen=True)
class MetaSetup:
    """What connecting a Meta channel saves and what the admin copies into the Meta app's Webhooks settings."""

    channel: str
    bot_id: str
    settings: dict[str, Any]
    secrets: dict[str, str]
    verify_token: str
    callback_url: str
    fields: tuple[str, ...]

    def instructions(self) -> list[str]:
        steps = [f"In the Meta app's Webhooks settings, set the callback URL to {self.callback_url} and the verify "
                 "token to the one shown here.",
                 f"Subscribe to the fields: {', '.join(self.fields)}."]
        if self.channel == "instagram":
            steps.append("Give the account at least one Ice Breaker: without one, ig.me links with a ref do not "
                         "reach new conversations.")
        if self.channel == "messenger":
            steps.append("Referflow set the page's Get Started button, so that m.me links with a ref reach new "
                         "conversations.")
        return steps


def prepare_connection(channel: str, *, bot_id: str, access_token: str, app_secret: str, public_url: str,
                       verify_token: str | None = None) -> MetaSetup:
    """Check what the admin typed (raising ValueError with what to fix) and generate the verify token."""
    if channel not in META_CHANNELS:
        raise ValueError(f"'{channel}' is not one of Meta's channels ({', '.join(META_CHANNELS)}).")
    bot_id, access_token, app_secret = bot_id.strip(), access_token.strip(), app_secret.strip()
    if not bot_id.isdigit() or len(bot_id) > 32:
        raise ValueError(f"The {ID_NAMES[channel]} is the number Meta shows for it (digits only), "
                         f"not '{bot_id[:40]}'.")
    if len(access_token) < 20 or any(c.isspace() for c in access_token):
        raise ValueError("The access token looks cut short or has spaces in it: copy it again from the Meta app.")
    if len(app_secret) < 16 or not app_secret.isalnum():
        raise ValueError("The app secret is the 32 letters and digits under App settings > Basic in the Meta app.")
    return MetaSetup(channel, bot_id, {"bot_id": bot_id}, {"access_token": access_token, "app_secret": app_secret},
                     verify_token or secrets.token_urlsafe(24), f"{public_url.rstrip('/')}/hooks/{channel}",
                     WEBHOOK_FIELDS[channel])


async def set_get_started(api: Any, graph_url: str, *, page_id: str, access_token: str) -> None:
    """Give the page a Get Started button (Messenger Profile API): m.me links with a ref reach new conversations
    only then. Raises TemporaryFailure or PermanentFailure with Meta's words."""
    await graph_call(api, "POST", f"{graph_url}/me/messenger_profile", "messenger", access_token,
                     {"get_started": {"payload": GET_STARTED}})


async def graph_call(api: Any, method: str, url: str, channel: str, access_token: str,
                     body: dict[str, Any] | None = None, params: dict[str, str] | None = None) -> dict[str, Any]:
    """Call the Graph API with the token in the Authorization header (never in the address, which servers and
    proxies log); Meta's refusals become the worker's failures in Meta's words."""
    response = await api.request(method, url, platform=CHANNEL_NAMES[channel], json=body, params=params,
                                 headers={"Authorization": f"Bearer {access_token}"})
    if response.status_code < 300:
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise TemporaryFailure(f"{CHANNEL_NAMES[channel]} answered with something that is not a JSON object")
        return answer
    error = read_graph_error(channel, response.status_code, response.content)
    if error.temporary:
        raise TemporaryFailure(error.words)  # Meta gives no wait: the worker's backoff (2 s, 4 s, 8 s...)
    raise PermanentFailure(error.words)


# --- sending -----------------------------------------------------------------------------------------------------

ConnectionReader = Callable[[str], Any]  # channel -> its BotConnection (secrets opened) or None


class MetaSender:
    """The delivery worker's sender for one Meta channel: `await sender(item)`."""

    def __init__(self, channel: str, *, api: Any, graph_url: str, connection: ConnectionReader,
                 database: Database, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.channel, self.api, self.graph_url = channel, api, graph_url
        self.connection, self.database, self.clock = connection, database, clock

    async def __call__(self, item: OutboxItem) -> None:
        bot = await asyncio.to_thread(self.connection, self.channel)
        if bot is None:
            raise TemporaryFailure(f"{CHANNEL_NAMES[self.channel]} is not connected; the message waits until it is.")
        token = bot.secrets.get("access_token", "")
        if self.channel == "whatsapp":
            last = await asyncio.to_thread(last_message_from, self.database, item.contact_id)
            if (closed := window_closed("whatsapp", last, self.clock())) is not None:
                raise PermanentFailure(closed)
            body = whatsapp_message(recipient=item.channel_user_id, text=item.text, buttons=item.buttons)
        else:
            body = messenger_message(recipient=item.channel_user_id, text=item.text, buttons=item.buttons)
        await graph_call(self.api, "POST", f"{self.graph_url}/{bot.bot_id}/messages", self.channel, token, body)


def last_message_from(database: Database, contact_id: int) -> datetime | None:
    """When the person last wrote to the bot: their last open (which on WhatsApp is a message) or reply."""
    with database.raw_connection() as connection:
        return _last_message_from(connection, contact_id)


def _last_message_from(connection: sqlite3.Connection, contact_id: int) -> datetime | None:
    row = connection.execute(
        "SELECT max(at) FROM (SELECT last_seen_at AS at FROM contact WHERE id = ?"
        " UNION ALL SELECT max(created_at) FROM message WHERE contact_id = ? AND direction = 'in')",
        (contact_id, contact_id)).fetchone()
    if row is None or row[0] is None:
        return None
    moment = datetime.fromisoformat(str(row[0]))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


# --- receiving ---------------------------------------------------------------------------------------------------


def is_open(event: MetaEvent, runtime: Runtime) -> bool:
    """Whether a person's event opens an entry point. Messenger and Instagram say so (a referral); on WhatsApp the
    link is a message, an open when it reads as `/REF` or matches an entry point's text pattern."""
    if event.kind == "open":
        return True
    if event.channel != "whatsapp":
        return False
    text = event.text.strip()
    if text.startswith("/") and len(text) > 1:
        return True
    entries = runtime.definitions().entries_with_whatsapp_pattern()
    return any(_matches(text, entry.whatsapp_pattern) for entry in entries)


def _matches(text: str, pattern: str) -> bool:
    try:
        return match_whatsapp_text(text, pattern) is not None
    except LinkError:
        return False


@dataclass(frozen=True)
class Processed:
    """What one event did: an open (`result` is the runtime's OpenResult) or a message (its TurnResult); a
    redelivery did nothing (`duplicate`)."""

    event: MetaEvent | None  # None for the other channels' opens (the simulator's Telegram and Viber)
    kind: str
    result: Any = None
    duplicate: bool = False

    @property
    def contact_id(self) -> int | None:
        return getattr(self.result, "contact_id", None)


def process_event(runtime: Runtime, event: MetaEvent, *, claim: Callable[[MetaEvent], bool],
                  forget: Callable[[MetaEvent], None] = lambda _event: None, options: RunOptions = LIVE) -> Processed:
    """One person's event through the runtime (blocking: call it from a thread). An open carries its event id, so
    the runtime's own dedupe makes a redelivery change nothing; a message is taken once through `claim` (True the
    first time this channel and bot saw its id). A message from someone the bot does not know yet is their first
    visit: an open with no entry point (the default reply). The simulator passes its `options`."""
    if is_open(event, runtime):
        result = runtime.open_link(_inbound(event), options)
        return Processed(event, "open", result, result.duplicate_event)
    if not claim(event):
        return Processed(event, "message", None, True)
    try:
        reply = runtime.reply(channel=event.channel, channel_user_id=event.channel_user_id, text=event.text,
                              options=options)
        if reply.contact_id is None:
            result = runtime.open_link(_inbound(event, text=""), options)
            return Processed(event, "open", result, result.duplicate_event)
    except BaseException:
        forget(event)  # nothing was processed: the platform's retry must be
        raise
    return Processed(event, "message", reply)


def _inbound(event: MetaEvent, text: str | None = None) -> Inbound:
    return Inbound(text=event.text if text is None else text, channel=event.channel,
                   channel_user_id=event.channel_user_id, first_name=event.first_name, last_name=event.last_name,
                   phone=event.phone, event_id=event.event_id, bot=event.bot)


# --- the three HookChannels --------------------------------------------------------------------------------------

ID_FIELDS = {"messenger": ConnectField("page_id", "Page ID", help="The Facebook page's id (Page > About)."),
             "instagram": ConnectField("account_id", "Instagram account ID",
                                       help="The professional account's id, as the Meta app shows it."),
             "whatsapp": ConnectField("phone_number_id", "Phone-number ID",
                                      help="WhatsApp > API Setup in the Meta app (not the phone number itself).")}
PROFILE_FIELDS = {"messenger": "id,name", "instagram": "id,username",
                  "whatsapp": "id,display_phone_number,verified_name"}


def meta_hook_channels() -> tuple[HookChannel, ...]:
    return tuple(HookChannel(
        name=channel, label=CHANNEL_NAMES[channel], receive=functools.partial(receive, channel),
        sender=functools.partial(make_sender, channel), connect=functools.partial(connect, channel),
        connect_fields=(ID_FIELDS[channel], ConnectField("access_token", "Access token", secret=True),
                        ConnectField("app_secret", "App secret", secret=True,
                                     help="App settings > Basic: every webhook is signed with it.")),
        handshake=functools.partial(handshake, channel), status=functools.partial(status, channel))
        for channel in META_CHANNELS)


async def handshake(channel: str, request: HookRequest, hooks: Hooks) -> Response:
    """Meta's subscription check: echo `hub.challenge` when the verify token is the one generated on connect."""
    found = await hooks.connections(channel)
    challenge = answer_handshake(request.query, found[0].verify_token if found else "")
    if challenge is None:
        return forbidden("The verify token does not match this Referflow's.")
    return PlainTextResponse(challenge[:200])


async def receive(channel: str, request: HookRequest, hooks: Hooks) -> Response:
    """A webhook delivery: signature first (401 without one, 403 wrong), then the body (400), then each event."""
    header = request.headers.get("x-hub-signature-256")
    if not header:
        return forbidden("The X-Hub-Signature-256 header is missing.", status=401)
    found = await hooks.connections(channel)
    if not found or not signature_matches(request.body, header, found[0].secrets.get("app_secret", "")):
        return forbidden("The signature does not match the app secret.")
    connection = found[0]
    try:
        events = read_webhook(channel, request.body)
    except MalformedWebhook as error:
        return bad_request(str(error))
    mine = [event for event in events if event.bot in ("", connection.bot_id)]
    if channel != "whatsapp":  # WhatsApp's webhook carries the name; Messenger's and Instagram's do not
        mine = list(await asyncio.gather(*(with_profile(hooks, connection, event) for event in mine)))
    if mine:
        await asyncio.to_thread(process_events, hooks.runtime, hooks.database, mine, connection.bot_id)
    await hooks.heard(connection)
    return PlainTextResponse("EVENT_RECEIVED")


PROFILE_WAIT = 3.0  # seconds a webhook waits for a new person's name before going on without it


async def with_profile(hooks: Hooks, connection: BotConnection, event: MetaEvent) -> MetaEvent:
    """A new person's open with their name from the User Profile API (templates greet them by it); any failure
    leaves the name empty rather than holding up the webhook."""
    if event.kind != "open" or await asyncio.to_thread(_known, hooks.database, event.channel, event.channel_user_id):
        return event
    fields = "first_name,last_name" if event.channel == "messenger" else "name,username"
    try:
        profile = await asyncio.wait_for(graph_call(
            hooks.api, "GET", f"{hooks.urls.meta_graph}/{event.channel_user_id}", event.channel,
            connection.secrets.get("access_token", ""), params={"fields": fields}), PROFILE_WAIT)
    except (TemporaryFailure, PermanentFailure, TimeoutError):
        return event
    first, last = str(profile.get("first_name") or ""), str(profile.get("last_name") or "")
    if not first and isinstance(profile.get("name"), str):
        first, _, last = profile["name"].partition(" ")
    return replace(event, first_name=first[:100], last_name=last[:100])


def _known(database: Database, channel: str, channel_user_id: str) -> bool:
    with database.raw_connection() as connection:
        return connection.execute("SELECT 1 FROM contact WHERE channel = ? AND channel_user_id = ?",
                                  (channel, channel_user_id)).fetchone() is not None


def process_events(runtime: Runtime, database: Database, events: list[MetaEvent], bot: str,
                   options: RunOptions = LIVE) -> list[Processed]:
    """Every event of a delivery, each in its own transaction (blocking). Redeliveries change nothing."""
    def claim(event: MetaEvent) -> bool:
        return store.claim_hook_event(database=database, channel=event.channel, bot=bot, event_id=event.event_id)

    def forget(event: MetaEvent) -> None:
        store.release_hook_event(database=database, channel=event.channel, bot=bot, event_id=event.event_id)

    return [process_event(runtime, replace(event, bot=bot), claim=claim, forget=forget, options=options)
            for event in events]


def make_sender(channel: str, hooks: Hooks) -> MetaSender:
    def read(name: str) -> BotConnection | None:
        return store.get_connection(database=hooks.database, box=hooks.box, channel=name)

    return MetaSender(channel, api=hooks.api, graph_url=hooks.urls.meta_graph, connection=read,
                      database=hooks.database)


async def connect(channel: str, hooks: Hooks, values: dict[str, str]) -> ConnectResult:
    """Check the id and token with Meta, set Messenger's Get Started button, save, and say what to subscribe."""
    callback = await asyncio.to_thread(hooks.callback_url, channel)
    try:
        setup = prepare_connection(channel, bot_id=values.get(ID_FIELDS[channel].name, ""),
                                   access_token=values.get("access_token", ""),
                                   app_secret=values.get("app_secret", ""), public_url=callback.rsplit("/hooks/", 1)[0])
    except ValueError as error:
        raise ConnectError(str(error)) from None
    token, graph = setup.secrets["access_token"], hooks.urls.meta_graph
    try:
        profile = await graph_call(hooks.api, "GET", f"{graph}/{setup.bot_id}", channel, token,
                                   params={"fields": PROFILE_FIELDS[channel]})
        if channel == "messenger":
            await set_get_started(hooks.api, graph, page_id=setup.bot_id, access_token=token)
            await graph_call(hooks.api, "POST", f"{graph}/{setup.bot_id}/subscribed_apps", channel, token,
                             params={"subscribed_fields": ",".join(setup.fields)})
    except (TemporaryFailure, PermanentFailure) as failure:
        raise ConnectError(f"Meta did not accept the {ID_NAMES[channel]} and access token: {failure}") from None
    settings = {**setup.settings, "callback_url": setup.callback_url, "fields": list(setup.fields),
                **{key: str(value) for key, value in profile.items() if key != "id" and isinstance(value, str)}}
    saved = await hooks.save(channel=channel, bot_id=setup.bot_id, settings=settings, secrets=setup.secrets,
                             verify_token=setup.verify_token)
    if identity := link_identity(channel, setup.bot_id, profile):  # the entry points' links are built with it
        await hooks.set_identity(*identity)
    notes = (f"Callback URL: {setup.callback_url}", f"Verify token (shown this once): {setup.verify_token}",
             *setup.instructions())
    return ConnectResult(saved, notes)


def link_identity(channel: str, bot_id: str, profile: dict[str, Any]) -> tuple[str, str] | None:
    """The Settings field this channel's links are built from, as Meta tells it: m.me/PAGE_ID, ig.me/m/USERNAME,
    wa.me/DIGITS."""
    if channel == "messenger":
        return "page_id", bot_id
    if channel == "instagram" and isinstance(profile.get("username"), str) and profile["username"]:
        return "instagram_username", profile["username"]
    digits = "".join(c for c in str(profile.get("display_phone_number", "")) if c.isdigit())
    return ("whatsapp_number", digits) if channel == "whatsapp" and digits else None


async def status(channel: str, hooks: Hooks, connection: BotConnection) -> list[tuple[str, str]]:
    settings = connection.settings
    name = settings.get("name") or settings.get("username") or settings.get("verified_name") or ""
    lines = [(ID_NAMES[channel].capitalize(), connection.bot_id)]
    if name:
        lines.append(("Name", str(name)))
    if settings.get("display_phone_number"):
        lines.append(("Number", str(settings["display_phone_number"])))
    lines += [("Callback URL", str(settings.get("callback_url", ""))),
              ("Webhook fields", ", ".join(settings.get("fields", WEBHOOK_FIELDS[channel])))]
    if channel == "instagram":
        lines.append(("Needs", "at least one Ice Breaker, or ig.me links with a ref miss new conversations"))
    return lines
