"""Telegram: `t.me/BOT?start=P` reaches the webhook as the message `/start P`; buttons are inline keyboards whose
presses come back as `callback_query`; the bot answers with `sendMessage` (https://core.telegram.org/bots/api).

Every delivery carries the `secret_token` given to `setWebhook` in `X-Telegram-Bot-Api-Secret-Token`: checked first.
Updates are deduplicated on `update_id` per bot (ids restart at random after a quiet week: never "greater than").
"""

import hmac
import json
import logging
import re
import secrets
from typing import Any

from starlette.responses import Response

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
from storage.outbox import OutboxItem

log = logging.getLogger(__name__)
NAME = "telegram"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
TOKEN = re.compile(r"[0-9]{1,20}:[A-Za-z0-9_-]{20,100}")
CALLBACK_DATA_BYTES = 64  # Telegram's limit for callback_data
ALLOWED_UPDATES = ["message", "callback_query"]
START = re.compile(r"/start(?:@\w+)?(?:\s|$)", re.I)


async def receive(request: HookRequest, hooks: Hooks) -> Response:
    given = request.headers.get(SECRET_HEADER)
    if not given:
        return forbidden("Unauthorized: no secret token", 401)
    connection = next((c for c in await hooks.connections(NAME)
                       if c.webhook_secret and hmac.compare_digest(c.webhook_secret.encode(), given.encode())), None)
    if connection is None:
        return forbidden("Forbidden: wrong secret token")
    update = _json_object(request.body)
    if update is None or not isinstance(update.get("update_id"), int):
        return bad_request("a Telegram update is a JSON object with an integer update_id")
    event = read_update(update)
    if isinstance(event, str):
        return bad_request(event)
    await hooks.heard(connection)
    if event is None:
        return ok()  # an update kind the bot does not act on (edited messages, group events...)
    kind, user, text, callback_id = event
    event_id = str(update["update_id"])
    if callback_id:
        hooks.spawn(_answer_callback(hooks, connection, callback_id))
    if kind == "open":
        await hooks.open(Inbound(text=text, channel=NAME, channel_user_id=str(user["id"]),
                                 first_name=_text(user.get("first_name")), last_name=_text(user.get("last_name")),
                                 event_id=event_id, bot=connection.bot_id))
        return ok()
    if not await hooks.first_time(channel=NAME, bot=connection.bot_id, event_id=event_id):
        return ok()
    try:
        await hooks.reply(channel=NAME, channel_user_id=str(user["id"]), text=text)
    except BaseException:
        await hooks.forget(channel=NAME, bot=connection.bot_id, event_id=event_id)
        raise
    return ok()


def read_update(update: dict[str, Any]) -> tuple[str, dict, str, str] | str | None:
    """("open" | "reply", the sender, the text, the callback query id or ""), None for an update the bot ignores,
    or the reason the update is malformed."""
    if "callback_query" in update:
        query = update["callback_query"]
        if not isinstance(query, dict) or not isinstance(query.get("id"), str) or not _is_user(query.get("from")):
            return "callback_query needs an id and a from user"
        data = query.get("data")
        if not isinstance(data, str):
            return None  # a game's callback: no data
        return "reply", query["from"], pressed_title(query.get("message"), data), query["id"]
    message = update.get("message")
    if message is None:
        return None
    if not isinstance(message, dict) or not _is_user(message.get("from")) or not isinstance(message.get("chat"), dict):
        return "message needs a from user and a chat"
    if message["chat"].get("type", "private") != "private" or message["from"].get("is_bot"):
        return None
    text = message.get("text")
    if not isinstance(text, str):
        return None  # stickers, photos...: nothing the runtime reads
    return ("open" if START.match(text) else "reply"), message["from"], text, ""


def pressed_title(message: object, data: str) -> str:
    """The title of the pressed button: read from the keyboard Telegram sends back, else from callback_data."""
    keyboard = message.get("reply_markup", {}).get("inline_keyboard", []) if isinstance(message, dict) else []
    for row in keyboard if isinstance(keyboard, list) else []:
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == data and isinstance(button.get("text"), str):
                return button["text"]
    return data.split(":", 1)[1] if ":" in data else data


def callback_data(index: int, title: str) -> str:
    """`index:title`, cut to Telegram's 64 bytes at a character boundary (the title comes back from the keyboard)."""
    data = f"{index}:{title}".encode()[:CALLBACK_DATA_BYTES]
    return data.decode("utf-8", errors="ignore")


def message_body(item: OutboxItem) -> dict[str, Any]:
    """The sendMessage parameters for an outbox message."""
    body: dict[str, Any] = {"chat_id": int(item.channel_user_id) if item.channel_user_id.lstrip("-").isdigit()
                            else item.channel_user_id, "text": item.text or " "}
    if item.buttons:
        body["reply_markup"] = {"inline_keyboard": [[{"text": button.get("title", ""),
                                                      "callback_data": callback_data(i, button.get("title", ""))}]
                                                    for i, button in enumerate(item.buttons)]}
    return body


def sender(hooks: Hooks) -> Sender:
    async def deliver(item: OutboxItem) -> None:
        connections = await hooks.connections(NAME)
        if not connections:
            raise TemporaryFailure("Telegram is not connected: connect the bot on the Channels page")
        await call(hooks, connections[0].secrets["token"], "sendMessage", message_body(item))

    return deliver


async def call(hooks: Hooks, token: str, method: str, payload: dict[str, Any] | None = None) -> Any:
    """One Bot API method; Telegram's `description` is the error text of a refused call."""
    answer = await hooks.api.call("POST", f"{hooks.urls.telegram}/bot{token}/{method}", platform="Telegram",
                                  json=payload or {})
    if answer.get("ok") is not True:
        raise PermanentFailure(f"Telegram: {answer.get('description') or 'the call was refused'}")
    return answer.get("result")


async def connect(hooks: Hooks, values: dict[str, str]) -> ConnectResult:
    token = values.get("token", "").strip()
    if not TOKEN.fullmatch(token):
        raise ConnectError("That is not a Telegram bot token: @BotFather gives one like 123456789:AAE-Xyz... "
                           "(digits, a colon, then letters, digits, _ and -).")
    try:
        me = await call(hooks, token, "getMe")
        if not isinstance(me, dict) or not me.get("username"):
            raise ConnectError("Telegram's getMe did not name the bot; is this a bot token?")
        secret = secrets.token_urlsafe(32)
        url = hooks.callback_url(NAME)
        await call(hooks, token, "setWebhook", {"url": url, "secret_token": secret,
                                                "allowed_updates": ALLOWED_UPDATES})
    except (PermanentFailure, TemporaryFailure) as error:
        raise ConnectError(f"The bot was not connected. {error}") from None
    username = me["username"]
    saved = await hooks.save(channel=NAME, bot_id=str(me.get("id", token.split(":", 1)[0])),
                             settings={"username": username, "name": _text(me.get("first_name")), "webhook": url},
                             secrets={"token": token}, webhook_secret=secret)
    await hooks.set_identity("telegram_bot", username)
    return ConnectResult(saved, (f"Connected @{username}; Telegram delivers its updates to {url}.",
                                 f"The Telegram bot username in Settings is now {username}."))


async def disconnect(hooks: Hooks, connection: BotConnection) -> None:
    await call(hooks, connection.secrets["token"], "deleteWebhook")


async def status(hooks: Hooks, connection: BotConnection) -> list[tuple[str, str]]:
    """What Telegram says about the webhook now (getWebhookInfo)."""
    try:
        info = await call(hooks, connection.secrets["token"], "getWebhookInfo")
    except (PermanentFailure, TemporaryFailure) as error:
        return [("Webhook", f"could not be read: {error}")]
    info = info if isinstance(info, dict) else {}
    lines = [("Webhook", str(info.get("url") or "not set")),
             ("Pending updates", str(info.get("pending_update_count", 0)))]
    if info.get("last_error_message"):
        lines.append(("Telegram's last webhook error", str(info["last_error_message"])))
    return lines


async def _answer_callback(hooks: Hooks, connection: BotConnection, callback_id: str) -> None:
    try:  # stops the spinner on the pressed button; the reply itself goes through the outbox
        await call(hooks, connection.secrets["token"], "answerCallbackQuery", {"callback_query_id": callback_id})
    except (PermanentFailure, TemporaryFailure) as error:
        log.warning("Telegram answerCallbackQuery failed: %s", error)


def _json_object(body: bytes) -> dict | None:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _is_user(value: object) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), int)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


CHANNEL = HookChannel(
    name=NAME, label="Telegram", receive=receive, sender=sender, connect=connect,
    connect_fields=(ConnectField("token", "Bot token", secret=True, help="From @BotFather, e.g. 123456789:AAE..."),),
    disconnect=disconnect, status=status)


def webhook_open(*, user_id: int, first_name: str, ref: str, update_id: int) -> bytes:
    """The update Telegram delivers when someone opens t.me/BOT?start=REF (for the simulator, tests, the bench)."""
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": f"/start {ref}".rstrip(),
        "chat": {"id": user_id, "type": "private", "first_name": first_name},
        "from": {"id": user_id, "is_bot": False, "first_name": first_name}}}).encode()


def webhook_message(*, user_id: int, first_name: str, text: str, update_id: int) -> bytes:
    """The update of a typed message (a reply)."""
    return json.dumps({"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": text,
        "chat": {"id": user_id, "type": "private", "first_name": first_name},
        "from": {"id": user_id, "is_bot": False, "first_name": first_name}}}).encode()


def read_webhook(body: bytes) -> tuple[str, dict, str, str] | str | None:
    """A webhook body read as the route reads it, without HTTP or a connection: see read_update."""
    update = _json_object(body)
    if update is None or not isinstance(update.get("update_id"), int):
        return "a Telegram update is a JSON object with an integer update_id"
    return read_update(update)
