"""Meta's three messaging channels — Messenger, Instagram and the WhatsApp Cloud API — read and written as Meta
documents them. Pure functions only: the webhook handshake, the `X-Hub-Signature-256` check, reading a webhook body
into inbound events, the Send API request for an outbox message, and Graph API errors turned into the delivery
worker's temporary or permanent failures. The webhook routes and the HTTP calls use these.

- Messenger and Instagram deliver `{"object": "page" | "instagram", "entry": [{"id", "messaging": [...]}]}`; an m.me
  or ig.me link's ref arrives as `postback.referral` (a new conversation: the Get Started button or an Ice Breaker),
  as a `referral` event (an existing one) or as `message.referral`.
- WhatsApp delivers `{"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages",
  "value": {"metadata": {"phone_number_id"}, "contacts": [...], "messages": [...]}}]}]}`; there is no ref: the text
  itself is the open (`/REF`, or an entry point's text pattern), read by the runtime.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runtime.vocabulary import CHANNEL_NAMES, window_hours

META_CHANNELS = ("messenger", "instagram", "whatsapp")
WEBHOOK_OBJECTS = {"messenger": "page", "instagram": "instagram", "whatsapp": "whatsapp_business_account"}
WEBHOOK_FIELDS = {  # what an admin subscribes in the Meta app's Webhooks settings
    "messenger": ("messages", "messaging_postbacks", "messaging_referrals"),
    "instagram": ("messages", "messaging_postbacks", "messaging_referral"),
    "whatsapp": ("messages",),
}
GET_STARTED = "GET_STARTED"  # the Get Started button's postback payload, set when Messenger connects
MAX_BUTTON_TEMPLATE = 3  # postback buttons in a Messenger button template; more become quick replies
MAX_QUICK_REPLIES = 13
MAX_BUTTON_TEMPLATE_TEXT = 640
MAX_WHATSAPP_BUTTONS = 3  # reply buttons; more (up to 10) become a list message
MAX_WHATSAPP_ROWS = 10
TEMPORARY_GRAPH_CODES = {1, 2, 4, 17, 32, 341, 613, 80001, 80006, 130429, 131000, 131016, 131048, 131056}
WINDOW_CLOSED_CODES = {131047}


class MalformedWebhook(ValueError):
    """The body is not the webhook Meta sends for this channel (the route answers 400 and stores nothing)."""


@dataclass(frozen=True)
class MetaEvent:
    """One thing a person did, read from a webhook. `kind` is "open" (a link was opened: `text` is the ref, or for
    WhatsApp the message, which the runtime reads as `/REF` or a text pattern), "message" (typed text, or a pressed
    button's id in `text`) — a message can still be an open on WhatsApp, where links are messages."""

    kind: str
    channel: str
    bot: str  # the page, Instagram account or WhatsApp phone-number id the event was sent to
    channel_user_id: str  # PSID, IGSID or WhatsApp id
    event_id: str  # unique per channel and bot: Meta's message id, else what identifies the delivery
    text: str
    first_name: str = ""
    last_name: str = ""
    phone: str = ""


def answer_handshake(params: Mapping[str, str], verify_token: str) -> str | None:
    """The `hub.challenge` to echo when Meta's GET is the subscription check with our verify token, else None."""
    if params.get("hub.mode") != "subscribe" or not verify_token:
        return None
    given = params.get("hub.verify_token", "")
    if not hmac.compare_digest(given.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge", "")


def signature_matches(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether `X-Hub-Signature-256: sha256=<hex>` is the HMAC-SHA256 of the raw body keyed with the app secret."""
    if not header or not app_secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header[len("sha256="):].strip().lower().encode(), expected.encode())


def sign(body: bytes, app_secret: str) -> str:
    """The header value Meta sends with `body` (stand-ins, the simulator and the benchmark sign with it)."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def read_webhook(channel: str, body: bytes) -> list[MetaEvent]:
    """Every person's event in one webhook body, in order. Deliveries Referflow does not act on (echoes of the
    page's own messages, reads, deliveries, reactions, WhatsApp statuses) are left out; a body that is not JSON or
    not this channel's webhook raises MalformedWebhook."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedWebhook(f"The body is not JSON ({error}).") from None
    if not isinstance(payload, dict) or payload.get("object") != WEBHOOK_OBJECTS[channel]:
        raise MalformedWebhook(f"The body is not a {channel} webhook: its 'object' is not "
                               f"'{WEBHOOK_OBJECTS[channel]}'.")
    entries = _list(payload, "entry")
    if channel == "whatsapp":
        return [event for entry in entries for change in _list(_dict(entry), "changes")
                for event in _read_whatsapp_change(_dict(change))]
    return [event for entry in entries for item in _list(_dict(entry), "messaging")
            if (event := _read_messaging(channel, _dict(entry), _dict(item))) is not None]


def _read_messaging(channel: str, entry: dict, item: dict) -> MetaEvent | None:
    sender = _text(_dict(item.get("sender")), "id")
    bot = _text(_dict_or_empty(item.get("recipient")), "id") or _text(entry, "id")
    if not sender:
        return None  # e.g. a `user_ref` sender (a checkbox plugin): no one to answer yet
    stamp = str(item.get("timestamp", ""))
    postback, message, referral = item.get("postback"), item.get("message"), item.get("referral")
    if isinstance(postback, dict):
        event_id = _text(postback, "mid") or f"postback:{sender}:{stamp}"
        ref = _ref_of(postback.get("referral"))
        if ref is not None:
            return MetaEvent("open", channel, bot, sender, event_id, ref)
        payload = _text(postback, "payload")
        if payload == GET_STARTED:  # Get Started with no ref: a plain first visit
            return MetaEvent("open", channel, bot, sender, event_id, "")
        return MetaEvent("message", channel, bot, sender, event_id, payload or _text(postback, "title"))
    if isinstance(referral, dict):
        ref = _ref_of(referral) or ""
        return MetaEvent("open", channel, bot, sender, f"referral:{sender}:{stamp}:{ref}", ref)
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None
        event_id = _text(message, "mid") or f"message:{sender}:{stamp}"
        ref = _ref_of(message.get("referral"))
        if ref is not None:
            return MetaEvent("open", channel, bot, sender, event_id, ref)
        quick = _dict_or_empty(message.get("quick_reply"))
        text = _text(quick, "payload") or _text(message, "text")
        return MetaEvent("message", channel, bot, sender, event_id, text) if text else None
    return None  # delivery, read, reaction, optin...: nothing to answer


def _ref_of(referral: object) -> str | None:
    return _text(referral, "ref") if isinstance(referral, dict) and "ref" in referral else None


def _read_whatsapp_change(change: dict) -> list[MetaEvent]:
    if change.get("field") != "messages":
        return []
    value = _dict(change.get("value"))
    bot = _text(_dict(value.get("metadata")), "phone_number_id")
    names = {_text(_dict(c), "wa_id"): _text(_dict_or_empty(_dict(c).get("profile")), "name")
             for c in _list(value, "contacts")}
    events = []
    for raw in _list(value, "messages"):
        message = _dict(raw)
        sender, message_id = _text(message, "from"), _text(message, "id")
        if not sender or not message_id:
            raise MalformedWebhook("A WhatsApp message has no 'from' or 'id'.")
        text = _whatsapp_text(message)
        if text is None:
            continue  # an image, a location, a reaction...: nothing the bot reads
        first, _, last = names.get(sender, "").partition(" ")
        events.append(MetaEvent("message", "whatsapp", bot, sender, message_id, text, first, last, "+" + sender))
    return events


def _whatsapp_text(message: dict) -> str | None:
    kind = message.get("type")
    if kind == "text":
        return _text(_dict(message.get("text")), "body")
    if kind == "interactive":
        interactive = _dict(message.get("interactive"))
        reply = _dict_or_empty(interactive.get("button_reply") or interactive.get("list_reply"))
        return _text(reply, "id") or _text(reply, "title")
    if kind == "button":  # a template's quick-reply button
        button = _dict_or_empty(message.get("button"))
        return _text(button, "payload") or _text(button, "text")
    return None


def _dict(value: object) -> dict:
    if not isinstance(value, dict):
        raise MalformedWebhook("The webhook has a value where an object belongs.")
    return value


def _list(parent: dict, key: str) -> list:
    value = parent.get(key, [])
    if not isinstance(value, list):
        raise MalformedWebhook(f"The webhook's '{key}' is not a list.")
    return value


def _text(parent: object, key: str) -> str:
    value = parent.get(key, "") if isinstance(parent, dict) else ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MalformedWebhook(f"The webhook's '{key}' is not text.")
    return str(value)


# --- sending ---------------------------------------------------------------------------------------------------


def messenger_message(*, recipient: str, text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """The Send API body for Messenger and Instagram (`POST /me/messages`), answering the person who wrote:
    up to 3 buttons as postback buttons under the text, more as quick replies (each button's id is its payload)."""
    message: dict[str, Any]
    if not buttons:
        message = {"text": text}
    elif len(buttons) <= MAX_BUTTON_TEMPLATE and len(text) <= MAX_BUTTON_TEMPLATE_TEXT and text:
        message = {"attachment": {"type": "template", "payload": {
            "template_type": "button", "text": text,
            "buttons": [{"type": "postback", "title": _title(b, 20), "payload": _payload(b)} for b in buttons]}}}
    else:
        message = {"text": text or "…", "quick_replies": [
            {"content_type": "text", "title": _title(b, 20), "payload": _payload(b)}
            for b in buttons[:MAX_QUICK_REPLIES]]}
    return {"recipient": {"id": recipient}, "messaging_type": "RESPONSE", "message": message}


def whatsapp_message(*, recipient: str, text: str, buttons: list[dict[str, Any]]) -> dict[str, Any]:
    """The Cloud API body for `POST /{phone-number-id}/messages`: text, or an interactive message with reply buttons
    (up to 3) or a list (up to 10 rows) whose ids are the buttons' ids."""
    base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": recipient}
    if not buttons:
        return {**base, "type": "text", "text": {"body": text, "preview_url": False}}
    body = {"text": (text or "…")[:1024]}
    if len(buttons) <= MAX_WHATSAPP_BUTTONS:
        action = {"buttons": [{"type": "reply", "reply": {"id": _payload(b)[:256], "title": _title(b, 20)}}
                              for b in buttons]}
        return {**base, "type": "interactive", "interactive": {"type": "button", "body": body, "action": action}}
    rows = [{"id": _payload(b)[:200], "title": _title(b, 24)} for b in buttons[:MAX_WHATSAPP_ROWS]]
    action = {"button": "Choose", "sections": [{"title": "Options", "rows": rows}]}
    return {**base, "type": "interactive", "interactive": {"type": "list", "body": body, "action": action}}


def _title(button: dict[str, Any], limit: int) -> str:
    title = str(button.get("title") or button.get("id") or "?")
    return title if len(title) <= limit else title[:limit - 1] + "…"


def _payload(button: dict[str, Any]) -> str:
    return str(button.get("id") or button.get("title") or "")


@dataclass(frozen=True)
class GraphError:
    """What the Graph API said about a refused request: temporary (try again later) or not, and its own words."""

    temporary: bool
    words: str


def read_graph_error(channel: str, status: int, body: bytes) -> GraphError:
    """Meta's answer to a failed request in Meta's words (`error.message`, its code and, for WhatsApp,
    `error_data.details`): 5xx, throttling and Meta's "temporary" codes are temporary; the rest permanent."""
    label = CHANNEL_NAMES[channel]
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError, UnicodeDecodeError):
        error = {}
    if not isinstance(error, dict):
        error = {}
    code = error.get("code")
    message = str(error.get("message") or error.get("error_user_msg") or f"HTTP {status}")
    details = _dict_or_empty(error.get("error_data")).get("details")
    if details and str(details) not in message:
        message = f"{message}: {details}"
    words = f"{label}: {message}" + (f" (code {code})" if code is not None else "")
    if code in WINDOW_CLOSED_CODES:
        return GraphError(False, f"{label}: more than {window_hours('whatsapp')} hours have passed since the person's "
                                 f"last message, so free text cannot be sent (Meta: {message}, code {code}).")
    temporary = status >= 500 or status == 429 or code in TEMPORARY_GRAPH_CODES or bool(error.get("is_transient"))
    return GraphError(temporary, words)


def _dict_or_empty(value: object) -> dict:
    return value if isinstance(value, dict) else {}


# --- bodies as Meta sends them (the simulator's "as Messenger", tests, the benchmark) -------------------------------


def webhook_open(channel: str, *, bot: str, user_id: str, ref: str, event_id: str, timestamp: int,
                 new_conversation: bool = True, first_name: str = "") -> bytes:
    """The webhook a link opening brings: Messenger's `postback.referral` (a new conversation, through Get Started)
    or `messaging_referrals` event (an existing one), Instagram's ig.me referral, WhatsApp's `/REF` text message."""
    if channel == "whatsapp":
        return webhook_message(channel, bot=bot, user_id=user_id, text=f"/{ref}", event_id=event_id,
                               timestamp=timestamp, first_name=first_name)
    referral = {"ref": ref, "source": "SHORTLINK" if channel == "messenger" else "IGME", "type": "OPEN_THREAD"}
    if new_conversation and channel == "messenger":
        item = {"postback": {"mid": event_id, "title": "Get Started", "payload": GET_STARTED, "referral": referral}}
    else:
        item = {"referral": referral}
    return _messaging(channel, bot, user_id, timestamp, item)


def webhook_message(channel: str, *, bot: str, user_id: str, text: str, event_id: str, timestamp: int,
                    button: str | None = None, first_name: str = "") -> bytes:
    """The webhook of a typed message, or of a pressed button (`button` is its id: a postback on Messenger and
    Instagram, an interactive `button_reply` on WhatsApp)."""
    if channel == "whatsapp":
        message: dict[str, Any] = {"from": user_id, "id": event_id, "timestamp": str(timestamp // 1000)}
        if button is None:
            message.update(type="text", text={"body": text})
        else:
            message.update(type="interactive", interactive={"type": "button_reply",
                                                            "button_reply": {"id": button, "title": text}})
        value = {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": bot, "phone_number_id": bot},
                 "contacts": [{"profile": {"name": first_name}, "wa_id": user_id}], "messages": [message]}
        return json.dumps({"object": "whatsapp_business_account",
                           "entry": [{"id": bot, "changes": [{"field": "messages", "value": value}]}]}).encode()
    if button is None:
        item: dict[str, Any] = {"message": {"mid": event_id, "text": text}}
    else:
        item = {"postback": {"mid": event_id, "title": text, "payload": button}}
    return _messaging(channel, bot, user_id, timestamp, item)


def _messaging(channel: str, bot: str, user_id: str, timestamp: int, item: dict[str, Any]) -> bytes:
    event = {"sender": {"id": user_id}, "recipient": {"id": bot}, "timestamp": timestamp, **item}
    return json.dumps({"object": WEBHOOK_OBJECTS[channel],
                       "entry": [{"id": bot, "time": timestamp, "messaging": [event]}]}).encode()
