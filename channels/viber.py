"""Viber: a `viber://pa?chatURI=URI&context=REF` link reaches the webhook as `conversation_started` with the ref in
`context`, and the bot's welcome message is the HTTP answer to it; later messages are `message` events, answered with
`send_message` (https://developers.viber.com/docs/api/rest-bot-api/).

Every callback is signed: `X-Viber-Content-Signature` is the hex HMAC-SHA256 of the raw body keyed with the bot's
auth token, checked first. Events are deduplicated on `message_token` per bot.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import re
from typing import Any

from starlette.responses import JSONResponse, Response

from channels.delivery import PermanentFailure, Sender, TemporaryFailure
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
    ok,
)
from runtime.inbound import Inbound
from storage import channel_connections as store
from storage.outbox import OutboxItem

NAME = "viber"
SIGNATURE_HEADER = "x-viber-content-signature"
EVENT_TYPES = ["delivered", "seen", "failed", "subscribed", "unsubscribed", "conversation_started"]
SENDER_NAME = 28  # characters Viber allows in sender.name
MIN_API_VERSION = 1
HANDOVER_WAIT = 5.0  # seconds the conversation_started answer waits for the worker to hand the welcome over
TEMPORARY_STATUSES = {12}  # tooManyRequests; every other non-zero status is a refusal in Viber's words


async def receive(request: HookRequest, hooks: Hooks) -> Response:
    given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
    if not given:
        return forbidden("Unauthorized: no X-Viber-Content-Signature", 401)
    connection = next((c for c in await hooks.connections(NAME) if hmac.compare_digest(
        hmac.new(c.secrets.get("auth_token", "").encode(), request.body, hashlib.sha256).hexdigest(), given)), None)
    if connection is None:
        return forbidden("Forbidden: wrong signature")
    event = _json_object(request.body)
    if event is None or not isinstance(event.get("event"), str):
        return bad_request("a Viber callback is a JSON object with an event")
    kind = event["event"]
    if kind == "conversation_started":
        return await _conversation_started(event, connection, hooks)
    if kind == "message":
        return await _message(event, connection, hooks)
    await hooks.heard(connection)
    return ok({"status": 0})  # webhook (set_webhook's check), subscribed, delivered, seen, failed...


async def _conversation_started(event: dict, connection: BotConnection, hooks: Hooks) -> Response:
    user, token = event.get("user"), event.get("message_token")
    if not _is_user(user) or not isinstance(token, int | str):
        return bad_request("conversation_started needs a user with an id and a message_token")
    context = event.get("context")
    await hooks.heard(connection)
    key = (NAME, user["id"])
    answer = hooks.answers[key] = asyncio.get_running_loop().create_future()
    try:
        result = await hooks.open(Inbound(text=context if isinstance(context, str) else "", channel=NAME,
                                          channel_user_id=user["id"], first_name=_text(user.get("name")),
                                          event_id=str(token), bot=connection.bot_id))
        if result.duplicate_event or result.contact_id is None:
            return Response(status_code=200)  # the welcome went with the first delivery
        body = await asyncio.to_thread(store.take_for_response, database=hooks.database,
                                       contact_id=result.contact_id)
        if body is None:  # this process's worker was quicker: its sender hands the welcome over (see sender)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(answer), HANDOVER_WAIT)
            body = answer.result() if answer.done() else None
    finally:
        hooks.answers.pop(key, None)
    if body is None:
        return Response(status_code=200)  # another process's worker sends it with send_message
    return JSONResponse(welcome_message(body, connection))


async def _message(event: dict, connection: BotConnection, hooks: Hooks) -> Response:
    sender, token, message = event.get("sender"), event.get("message_token"), event.get("message")
    if not _is_user(sender) or not isinstance(token, int | str) or not isinstance(message, dict):
        return bad_request("a message event needs a sender with an id, a message_token and a message")
    await hooks.heard(connection)
    text = message.get("text")
    if not isinstance(text, str):
        return ok({"status": 0})  # pictures, stickers...: nothing the runtime reads
    if not await hooks.first_time(channel=NAME, bot=connection.bot_id, event_id=str(token)):
        return ok({"status": 0})
    try:
        await hooks.reply(channel=NAME, channel_user_id=sender["id"], text=text)
    except BaseException:
        await hooks.forget(channel=NAME, bot=connection.bot_id, event_id=str(token))
        raise
    return ok({"status": 0})


def welcome_message(body: dict[str, Any], connection: BotConnection) -> dict[str, Any]:
    """The conversation_started answer: a message without a receiver (Viber sends it to the person who opened)."""
    message = {"sender": {"name": sender_name(connection)}, "type": "text", "text": body.get("text") or " "}
    if body.get("buttons"):
        message["keyboard"] = keyboard(body["buttons"])
    return message


def message_body(item: OutboxItem, connection: BotConnection) -> dict[str, Any]:
    """The send_message parameters for an outbox message."""
    message = {"receiver": item.channel_user_id, "min_api_version": MIN_API_VERSION,
               "sender": {"name": sender_name(connection)}, "type": "text", "text": item.text or " "}
    if item.buttons:
        message["keyboard"] = keyboard(item.buttons)
    return message


def keyboard(buttons: list[dict]) -> dict[str, Any]:
    """A reply keyboard: pressing a button sends its title back as a message."""
    return {"Type": "keyboard", "DefaultHeight": False,
            "Buttons": [{"ActionType": "reply", "ActionBody": b.get("title", ""), "Text": b.get("title", ""),
                         "Columns": 6, "Rows": 1} for b in buttons]}


def sender_name(connection: BotConnection) -> str:
    return (connection.settings.get("name") or "Bot")[:SENDER_NAME]


def sender(hooks: Hooks) -> Sender:
    async def deliver(item: OutboxItem) -> None:
        answer = hooks.answers.get((NAME, item.channel_user_id))
        if answer is not None and not answer.done():  # a conversation_started answer is waiting for its welcome
            answer.set_result(item.body)
            return
        connections = await hooks.connections(NAME)
        if not connections:
            raise TemporaryFailure("Viber is not connected: connect the bot on the Channels page")
        await call(hooks, connections[0].secrets["auth_token"], "send_message", message_body(item, connections[0]))

    return deliver


async def call(hooks: Hooks, token: str, method: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """One Viber API call. Viber answers 200 with a status: 0 is done; otherwise `status_message` says why."""
    answer = await hooks.api.call("POST", f"{hooks.urls.viber}/{method}", platform="Viber", json=payload or {},
                                  headers={"X-Viber-Auth-Token": token})
    status = answer.get("status")
    if status != 0:
        reason = f"Viber: {answer.get('status_message') or f'status {status}'}"
        raise TemporaryFailure(reason) if status in TEMPORARY_STATUSES else PermanentFailure(reason)
    return answer


async def connect(hooks: Hooks, values: dict[str, str]) -> ConnectResult:
    token = values.get("auth_token", "").strip()
    if not token or len(token) > 200 or not token.isascii() or any(c.isspace() for c in token):
        raise ConnectError("Paste the bot's auth token from the Viber Admin Panel (one word, e.g. "
                           "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f).")
    try:
        account = await call(hooks, token, "get_account_info")
    except (PermanentFailure, TemporaryFailure) as error:
        raise ConnectError(f"The bot was not connected. {error}") from None
    url = hooks.callback_url(NAME)
    # set_webhook makes Viber post a signed `webhook` check to the address at once: the token must be known by then.
    saved = await hooks.save(channel=NAME, bot_id=str(account.get("id") or token[:16]),
                             settings={"name": _text(account.get("name")) or "Bot", "uri": _text(account.get("uri")),
                                       "webhook": url}, secrets={"auth_token": token})
    try:
        await call(hooks, token, "set_webhook", {"url": url, "event_types": EVENT_TYPES, "send_name": True,
                                                 "send_photo": False})
    except (PermanentFailure, TemporaryFailure) as error:
        await hooks.disconnect(NAME)
        raise ConnectError(f"The bot was not connected: setting its webhook to {url} failed. {error}") from None
    notes = [f"Connected {saved.settings['name']}; Viber delivers its callbacks to {url}."]
    uri = saved.settings["uri"]
    if re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", uri):
        await hooks.set_identity("viber_uri", uri)
        notes.append(f"The Viber bot URI in Settings is now {uri}.")
    return ConnectResult(saved, tuple(notes))


async def disconnect(hooks: Hooks, connection: BotConnection) -> None:
    await call(hooks, connection.secrets["auth_token"], "set_webhook", {"url": ""})


def _json_object(body: bytes) -> dict | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _is_user(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and bool(value["id"])


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


CHANNEL = HookChannel(
    name=NAME, label="Viber", receive=receive, sender=sender, connect=connect,
    connect_fields=(ConnectField("auth_token", "Auth token", secret=True,
                                 help="From the Viber Admin Panel (partners.viber.com), under the bot's info"),),
    disconnect=disconnect)


def webhook_open(*, user_id: str, name: str, ref: str, message_token: int) -> bytes:
    """The conversation_started callback of viber://pa?chatURI=URI&context=REF (simulator, tests, the bench)."""
    return json.dumps({"event": "conversation_started", "timestamp": 0, "message_token": message_token,
                       "type": "open", "context": ref, "user": {"id": user_id, "name": name, "api_version": 8},
                       "subscribed": False}).encode()


def webhook_message(*, user_id: str, name: str, text: str, message_token: int) -> bytes:
    return json.dumps({"event": "message", "timestamp": 0, "message_token": message_token,
                       "sender": {"id": user_id, "name": name}, "message": {"type": "text", "text": text}}).encode()


def sign(body: bytes, auth_token: str) -> str:
    """X-Viber-Content-Signature of a body."""
    return hmac.new(auth_token.encode(), body, hashlib.sha256).hexdigest()
