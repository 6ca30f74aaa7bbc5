"""The simulator's "as the channel's webhook": the body the platform would really send for an open, fed through the
very code the live `/hooks/<channel>` route runs (reading the body, deduplicating, the runtime call) — on the
sandbox. Delivering the same body again shows what a platform's redelivery does: nothing."""

import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from channels import telegram, viber
from channels.meta import META_CHANNELS, MalformedWebhook, MetaEvent, read_webhook, webhook_open
from channels.meta_live import Processed, process_events
from runtime.opening import Inbound
from runtime.service import RunOptions, Runtime
from runtime.vocabulary import CHANNEL_NAMES
from storage.db import Database

WEBHOOK_CHANNELS = {channel: CHANNEL_NAMES[channel] for channel in (*META_CHANNELS, "telegram", "viber")}
SANDBOX_BOT = "sandbox"  # the page, account or number the simulated webhooks are sent to


@dataclass(frozen=True)
class SimulatedDelivery:
    channel: str
    body: bytes
    first_name: str = ""  # what Messenger's and Instagram's User Profile API would answer for the person
    last_name: str = ""

    @property
    def label(self) -> str:
        return WEBHOOK_CHANNELS[self.channel]

    def pretty(self) -> str:
        return json.dumps(json.loads(self.body), indent=2, ensure_ascii=False)


def simulated_open(channel: str, *, user_id: str, ref: str, new_conversation: bool, first_name: str,
                   now: datetime) -> SimulatedDelivery | None:
    """The webhook `channel` sends when the person opens a link with `ref`: Messenger's `postback.referral` for a
    new conversation or `messaging_referrals` for an existing one, Instagram's ig.me referral, WhatsApp's `/REF`
    message, Telegram's `/start REF` update, Viber's `conversation_started`. None when the person's id cannot be
    one of the channel's (Telegram's are numbers)."""
    first, _, last = first_name.partition(" ")
    if channel == "telegram":
        if not user_id.isdigit():
            return None
        body = telegram.webhook_open(user_id=int(user_id), first_name=first_name, ref=ref,
                                     update_id=secrets.randbelow(2**31))
    elif channel == "viber":
        body = viber.webhook_open(user_id=user_id, name=first_name, ref=ref, message_token=secrets.randbelow(2**53))
    else:
        event_id = {"whatsapp": "wamid.", "messenger": "m_", "instagram": "aWdf"}[channel] + secrets.token_hex(12)
        body = webhook_open(channel, bot=SANDBOX_BOT, user_id=user_id, ref=ref, event_id=event_id,
                            timestamp=int(now.timestamp() * 1000), new_conversation=new_conversation,
                            first_name=first_name)
    return SimulatedDelivery(channel, body, first, last)


def deliver(runtime: Runtime, database: Database, delivery: SimulatedDelivery,
            options: RunOptions) -> list[Processed]:
    """What the live route does with the body once its signature is checked (raises MalformedWebhook), with the
    simulation's `options` (draft or published, seed)."""
    if delivery.channel == "telegram":
        return _deliver_telegram(runtime, delivery.body, options)
    if delivery.channel == "viber":
        return _deliver_viber(runtime, delivery.body, options)
    assert delivery.channel in META_CHANNELS
    events = read_webhook(delivery.channel, delivery.body)
    if delivery.channel != "whatsapp":  # the live route asks the User Profile API for a new person's name
        events = [event if event.kind != "open" else _named(event, delivery) for event in events]
    return process_events(runtime, database, events, SANDBOX_BOT, options)


def _deliver_telegram(runtime: Runtime, body: bytes, options: RunOptions) -> list[Processed]:
    read = telegram.read_webhook(body)
    if isinstance(read, str):
        raise MalformedWebhook(read)
    if read is None or read[0] != "open":
        return []
    _kind, user, text, _ = read
    inbound = Inbound(text=text, channel="telegram", channel_user_id=str(user["id"]),
                      first_name=str(user.get("first_name") or ""), last_name=str(user.get("last_name") or ""),
                      event_id=str(json.loads(body)["update_id"]), bot=SANDBOX_BOT)
    return [_opened(runtime, inbound, options)]


def _deliver_viber(runtime: Runtime, body: bytes, options: RunOptions) -> list[Processed]:
    event = json.loads(body)
    if event.get("event") != "conversation_started":
        return []
    user = event["user"]
    inbound = Inbound(text=str(event.get("context") or ""), channel="viber", channel_user_id=str(user["id"]),
                      first_name=str(user.get("name") or ""), event_id=str(event["message_token"]), bot=SANDBOX_BOT)
    return [_opened(runtime, inbound, options)]


def _opened(runtime: Runtime, inbound: Inbound, options: RunOptions) -> Processed:
    result = runtime.open_link(inbound, options)
    return Processed(None, "open", result, result.duplicate_event)


def _named(event: MetaEvent, delivery: SimulatedDelivery) -> MetaEvent:
    return replace(event, first_name=delivery.first_name, last_name=delivery.last_name)
