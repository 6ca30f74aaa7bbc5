"""The simulator's "as the channel's webhook": the body the platform would really send for an open, fed through the
very code the live `/hooks/<channel>` route runs (reading the body, deduplicating, the runtime call) — on the
sandbox. Delivering the same body again shows what a platform's redelivery does: nothing."""

import json
import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from channels.meta import MetaEvent, read_webhook, webhook_open
from channels.meta_live import Processed, process_events
from runtime.service import Runtime
from storage.db import Database

WEBHOOK_CHANNELS = {"messenger": "Messenger", "instagram": "Instagram", "whatsapp": "WhatsApp"}
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
                   now: datetime) -> SimulatedDelivery:
    """The webhook `channel` sends when the person opens a link with `ref`: Messenger's `postback.referral` for a
    new conversation or `messaging_referrals` for an existing one, Instagram's ig.me referral, WhatsApp's `/REF`."""
    event_id = {"whatsapp": "wamid.", "messenger": "m_", "instagram": "aWdf"}[channel] + secrets.token_hex(12)
    body = webhook_open(channel, bot=SANDBOX_BOT, user_id=user_id, ref=ref, event_id=event_id,
                        timestamp=int(now.timestamp() * 1000), new_conversation=new_conversation,
                        first_name=first_name)
    first, _, last = first_name.partition(" ")
    return SimulatedDelivery(channel, body, first, last)


def deliver(runtime: Runtime, database: Database, delivery: SimulatedDelivery) -> list[Processed]:
    """What the live route does with the body once its signature is checked (raises MalformedWebhook)."""
    events = read_webhook(delivery.channel, delivery.body)
    if delivery.channel != "whatsapp":  # the live route asks the User Profile API for a new person's name
        events = [event if event.kind != "open" else _named(event, delivery) for event in events]
    return process_events(runtime, database, events, SANDBOX_BOT)


def _named(event: MetaEvent, delivery: SimulatedDelivery) -> MetaEvent:
    return replace(event, first_name=delivery.first_name, last_name=delivery.last_name)
