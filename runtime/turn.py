"""One turn of the bot: everything that happens inside one transaction (an open, a reply, a wake-up).

The turn owns the connection, the definitions, the clock reading, and what happened so far — events (which the
trigger engine consumes while they are being added), messages sent, warnings and the trace the simulator shows.
Field and tag changes are single SQL statements (upserts, atomic increments) that emit their events.
"""

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runtime import store
from runtime.definitions import Definitions, FieldDef
from runtime.referral_stats import Scope, referral_value
from runtime.templates import is_template, render_template
from runtime.values import decode_value, encode_value
from runtime.vocabulary import CHANNEL_NAMES, MESSAGE_LIMITS
from storage.connection import Executor
from storage.outbox import store_message

MAX_TRIGGER_DEPTH = 10  # events caused by events caused by ... deeper than this are dropped, with a warning
MAX_FLOW_STEPS = 200  # nodes one flow run may visit before it is stopped as a runaway loop
_JSON = json.JSONEncoder(ensure_ascii=False).encode  # built once; json.dumps with an option builds one per call


@dataclass
class Event:
    type: str
    contact_id: int
    other_contact_id: int | None = None
    entry_point_id: int | None = None
    field_id: int | None = None
    tag_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    depth: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = {"type": self.type, "contact_id": self.contact_id, "other_contact_id": self.other_contact_id,
                "entry_point_id": self.entry_point_id, "field_id": self.field_id, "tag_id": self.tag_id,
                "data": self.data}
        return {key: value for key, value in data.items() if value is not None and value != {}}


@dataclass
class SentMessage:
    contact_id: int
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    flow_id: int | None = None
    node_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {"contact_id": self.contact_id, "text": self.text, "buttons": self.buttons, "flow_id": self.flow_id,
                "node_id": self.node_id}
        return {key: value for key, value in data.items() if value is not None and value != []}


class Turn:
    def __init__(self, connection: Executor, definitions: Definitions, now: datetime, *,
                 use_draft: bool = False, seed: int | str | None = None, trace: bool = True,
                 outbox: bool = False, lock_contact: Callable[..., None] | None = None) -> None:
        self.db = connection
        self.lock_contact = lock_contact or _no_lock  # PostgreSQL: row-lock a contact this turn is about to change
        self.defs = definitions
        self.now = now
        self.stamp = now.replace(tzinfo=None).isoformat(" ", "microseconds")  # SQLAlchemy's DATETIME text format
        self.use_draft = use_draft
        self.seed = seed
        self.events: list[Event] = []
        self.messages: list[SentMessage] = []
        self.warnings: list[str] = []
        self.steps: list[dict[str, Any] | Event | SentMessage] = []  # the trace; objects become dicts when read
        self.tracing = trace  # off: the trace holds only events and messages, not the steps between them
        self.outbox = outbox  # live: every message sent is also queued for delivery (storage/outbox.py)
        self.queued = 0  # messages queued in the outbox by this turn
        self._contacts: dict[int, dict[str, Any] | None] = {}  # what templates see; follows the turn's own changes
        self._channels: dict[int, str] = {}  # a contact's channel never changes

    def random_for(self, place: str) -> random.Random:
        """Unseeded: truly random. Seeded (the simulator, tests): the same seed, contact, place and time give the
        same draw, so a scenario replays identically."""
        return random.Random() if self.seed is None else random.Random(f"{self.seed}:{place}:{self.stamp}")

    @property
    def trace(self) -> list[dict[str, Any]]:
        return trace_steps(self.steps)

    # --- events and the trace ------------------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        self.events.append(event)
        self.steps.append(event)

    def note(self, kind: str, **details: Any) -> None:
        if self.tracing:
            self.steps.append({"kind": kind, **details})

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        self.steps.append({"kind": "warning", "message": message})

    def write_events(self) -> None:
        """Store the turn's events (already handled by the trigger engine within this transaction)."""
        store.insert_events(
            self.db,
            [(e.type, e.contact_id, e.other_contact_id, e.entry_point_id, e.field_id, e.tag_id,
              _JSON(e.data) if e.data else "{}", e.depth, self.stamp) for e in self.events],
        )

    # --- custom fields ---------------------------------------------------------------------------------------------

    def set_field(self, contact_id: int, target: FieldDef, value: Any, depth: int = 0) -> None:
        """Store an already type-checked value; emits field_changed only when the value really changed."""
        stored = encode_value(value)
        if store.set_field_value(self.db, contact_id, target.id, stored, self.stamp):
            self._remember_value(contact_id, target, stored)
            self.emit(Event("field_changed", contact_id, field_id=target.id, data={"value": value}, depth=depth))

    def add_to_field(self, contact_id: int, target: FieldDef, amount: float, depth: int = 0) -> None:
        """Increase (or, with a negative amount, decrease) a number field in one atomic statement."""
        if target.type != "number":
            self.warn(f"Field '{target.name}' is {target.type}, not a number; it cannot be increased or decreased.")
            return
        stored = store.add_to_number_field(self.db, contact_id, target.id, encode_value(amount), amount, self.stamp)
        self._remember_value(contact_id, target, stored)
        if amount:
            self.emit(Event("field_changed", contact_id, field_id=target.id, data={"value": decode_value(stored)},
                            depth=depth))

    def clear_field(self, contact_id: int, target: FieldDef, depth: int = 0) -> None:
        if store.delete_field_value(self.db, contact_id, target.id):
            self._remember_value(contact_id, target, None)
            self.emit(Event("field_changed", contact_id, field_id=target.id, data={"value": None}, depth=depth))

    def field_values(self, contact_id: int) -> dict[int, Any]:
        """Field values by field ID (from the turn's cache of the contact)."""
        return (self.contact(contact_id) or {}).get(_BY_ID, {})

    # --- tags ------------------------------------------------------------------------------------------------------

    def add_tag(self, contact_id: int, tag_id: int, depth: int = 0, entry_point_id: int | None = None) -> None:
        if store.add_tag(self.db, contact_id, tag_id, self.stamp):
            if (cached := self._contacts.get(contact_id)) and tag_id in self.defs.tags_by_id:
                cached[_TAGS].append(self.defs.tags_by_id[tag_id])
            self.emit(Event("tag_added", contact_id, tag_id=tag_id, entry_point_id=entry_point_id, depth=depth))

    def remove_tag(self, contact_id: int, tag_id: int, depth: int = 0) -> None:
        if store.remove_tag(self.db, contact_id, tag_id):
            if (cached := self._contacts.get(contact_id)) and self.defs.tags_by_id.get(tag_id) in cached[_TAGS]:
                cached[_TAGS].remove(self.defs.tags_by_id[tag_id])
            self.emit(Event("tag_removed", contact_id, tag_id=tag_id, depth=depth))

    # --- contacts and messages ----------------------------------------------------------------------------------

    def contact(self, contact_id: int | None) -> dict[str, Any] | None:
        """System fields and custom fields (by name) of a contact, as templates see them."""
        if contact_id is None:
            return None
        if contact_id not in self._contacts:
            self._contacts[contact_id] = self._load_contact(contact_id)
        return self._contacts[contact_id]

    def channel_of(self, contact_id: int) -> str:
        if contact_id not in self._channels:
            self._channels[contact_id] = (self.contact(contact_id) or {}).get("channel", "")
        return self._channels[contact_id]

    def know_channel(self, contact_id: int, channel: str) -> None:
        self._channels[contact_id] = channel

    def forget(self, contact_id: int) -> None:
        """Drop what was read of a contact after changing it behind the turn's back."""
        self._contacts.pop(contact_id, None)

    def know_new_contact(self, contact_id: int, channel: str, channel_user_id: str, first_name: str, last_name: str,
                         phone: str, referred_by_id: int | None) -> None:
        """A contact this turn just created, as _load_contact would read it back: no fields, no tags yet."""
        values = dict(zip(_SYSTEM_FIELDS, (contact_id, channel, channel_user_id, first_name, last_name, phone,
                                           referred_by_id, self.stamp), strict=True))
        values["full_name"] = f"{first_name} {last_name}".strip()
        values[_BY_ID], values[_TAGS] = {}, []
        self._contacts[contact_id] = values
        self._channels[contact_id] = channel

    def know_referrer(self, contact_id: int, referrer_id: int) -> None:
        """The turn just set the contact's referred_by_id."""
        if cached := self._contacts.get(contact_id):
            cached["referred_by_id"] = referrer_id

    def _remember_value(self, contact_id: int, target: FieldDef, stored: str | None) -> None:
        """Keep a contact read earlier in this turn up to date with a field change, as a fresh read would see it."""
        cached = self._contacts.get(contact_id)
        if cached is None or target.id not in self.defs.fields_by_id:
            return
        if stored is None:
            self.forget(contact_id)  # rare; a fresh read shows what the name means without the field
        else:
            cached[_BY_ID][target.id] = cached[target.name] = decode_value(stored)

    def _load_contact(self, contact_id: int) -> dict[str, Any] | None:
        """The contact row, its field values and its tags in one query."""
        rows = store.read_contact_rows(self.db, contact_id)
        if not rows or rows[0][0] != 0:
            return None
        values = dict(zip(_SYSTEM_FIELDS, rows[0][1:], strict=True))
        values["full_name"] = f"{values['first_name']} {values['last_name']}".strip()
        by_id, tags = values[_BY_ID], values[_TAGS] = {}, []
        for kind, item_id, value, *_ in rows[1:]:
            if kind == 1 and item_id in self.defs.fields_by_id:
                by_id[item_id] = values[self.defs.fields_by_id[item_id].name] = decode_value(value)
            elif kind == 2 and item_id in self.defs.tags_by_id:
                tags.append(self.defs.tags_by_id[item_id])
        return values

    def fields_and_tags(self, contact_id: int) -> tuple[dict[str, Any], list[str]]:
        """A contact's field values by field name and sorted tag names, as stored now."""
        contact = self.contact(contact_id) or {}
        names = self.defs.fields_by_id
        fields = {names[field_id].name: value for field_id, value in sorted(contact.get(_BY_ID, {}).items())}
        return fields, sorted(contact.get(_TAGS, []))

    def render(self, text: str, contact_id: int, *, referred_id: int | None = None, extra: dict | None = None,
               scope: Scope | None = None) -> str:
        """The text with its templates filled in; `{{referrals.*}}` reads the board `scope` names (by default every
        entry point, all time)."""
        if "{" not in text or not is_template(text):  # {% if %} needs no {{ }}
            return text
        people = {"me": lambda: self.contact(contact_id),
                  "referrer": lambda: self.contact((self.contact(contact_id) or {}).get("referred_by_id")),
                  "referred": lambda: self.contact(referred_id)}

        def lookup(name: str) -> Any:
            if extra and name in extra:
                return extra[name]
            if name == "bot_name":
                return self.defs.bot_name
            person, _, key = name.partition(".")
            if key and person == "referrals":
                return referral_value(self.db, contact_id=contact_id, key=key, at=self.now, scope=scope or Scope())
            if key and person in people:
                return (people[person]() or {}).get(key)
            return (people["me"]() or {}).get(name)

        rendered = render_template(text, lookup)
        for name in rendered.missing:
            self.warn(f"'{{{{{name}}}}}' has no value for {self.who(contact_id)}; it was left out of the message.")
        if rendered.failed:
            self.warn(f"The message to {self.who(contact_id)} could not be filled in: {rendered.failed}. "
                      f"It was sent without its template parts: “{rendered.text}”.")
        return rendered.text

    def who(self, contact_id: int | None) -> str:
        """How the admin recognises a contact in a warning: "Ann (contact 4)"."""
        name = (self.contact(contact_id) or {}).get("full_name")
        return f"{name} (contact {contact_id})" if name else f"contact {contact_id}"

    def send(self, message: SentMessage) -> None:
        limit = MESSAGE_LIMITS.get(self.channel_of(message.contact_id)) if len(message.text) > 1000 else None
        if limit is not None and len(message.text) > limit:
            channel = CHANNEL_NAMES[self.channel_of(message.contact_id)]
            self.warn(f"The message to {self.who(message.contact_id)} has {len(message.text):,} characters, but "
                      f"{channel} allows at most {limit:,}: {channel} would refuse it. Shorten it or split it in two.")
        message_id = store.insert_sent_message(self.db, message.contact_id, message.text,
                                               _JSON(message.buttons) if message.buttons else "[]", message.flow_id,
                                               message.node_id, self.stamp)
        if self.outbox:
            store_message(connection=self.db, contact_id=message.contact_id,
                          channel=self.channel_of(message.contact_id), message_id=message_id,
                          body=message.to_dict(), now=self.stamp)
            self.queued += 1
        self.messages.append(message)
        self.steps.append(message)

    def receive(self, contact_id: int, text: str) -> None:
        store.insert_received_message(self.db, contact_id, text, self.stamp)
        self.note("reply", contact_id=contact_id, text=text)


def _no_lock(_contact_id: int, _person: tuple[str, str] | None = None) -> None:
    """SQLite: the turn's BEGIN IMMEDIATE already excludes every other writer."""


_BY_ID = "\x00fields by id"  # keys no template can name
_TAGS = "\x00tags"
_SYSTEM_FIELDS = ("user_id", "channel", "channel_user_id", "first_name", "last_name", "phone", "referred_by_id",
                  "created_at")


def trace_steps(steps: list) -> list[dict[str, Any]]:
    """What happened, in order: events, triggers, actions, flow steps, messages, warnings."""
    return [_event_step(step) if isinstance(step, Event) else {"kind": "message", **step.to_dict()}
            if isinstance(step, SentMessage) else step for step in steps]


def _event_step(event: Event) -> dict[str, Any]:
    details = event.to_dict()
    return {"kind": "event", "event": details.pop("type"), **details}
